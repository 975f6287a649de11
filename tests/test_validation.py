"""Issue 10, case 5: the Python API checks shapes, ranges and types where ``Candidates``/``Context`` are built
and where ``select`` starts, instead of answering silently wrong; and a property test over every sampler."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framesampler import Candidates, Context, candidate_indices, create_sampler, list_samplers
from framesampler.candidates import Reads
from framesampler.learned import LearnedSampler
from framesampler.policies.registry import sampler_factory

RNG = np.random.default_rng(0)


def logits(rows: int, classes: int = 5) -> torch.Tensor:
    return torch.from_numpy(RNG.normal(size=(rows, classes)))


@pytest.mark.parametrize("call, error, message", [
    (lambda: create_sampler("semi_optimal_max").select(Candidates.of_length(10), 3, context=Context(frame_logits=logits(4))),
     ValueError, r"context.frame_logits has 4 rows for 10 candidates"),
    (lambda: create_sampler("mgsampler").select(Candidates.of_length(10, features=RNG.random((5, 8))), 3),
     ValueError, r"candidates.features has 5 rows for 10 candidates"),
    (lambda: create_sampler("oracle").select(Candidates.of_length(10), 3,
                                             context=Context(frame_logits=torch.full((10, 5), float("nan")), label=1)),
     ValueError, r"context.frame_logits holds NaN or inf in row\(s\) 0, 1, 2"),
    (lambda: Context(frame_logits=logits(10), label=-1), ValueError, r"context.label must be an integer >= 0, got -1"),
    (lambda: Context(frame_logits=logits(10), label=5), ValueError, r"context.label 5 is not a class .*0..4"),
    (lambda: Context(frame_logits=logits(10), label=True), TypeError, r"context.label must be an integer"),
    (lambda: candidate_indices(float("nan"), 5), TypeError, r"frame_count must be an integer"),
    (lambda: candidate_indices(100, 5.0), TypeError, r"num_candidates \(T\) must be an integer"),
    (lambda: create_sampler("mgsampler", mu=float("nan")), ValueError, r"mu .* must be a finite number > 0, got nan"),
    (lambda: create_sampler("uniform").select(Candidates.of_length(10), True), TypeError, r"n \(frames to select\)"),
    (lambda: create_sampler("dense").select(Candidates.of_length(10), 2.0), TypeError, r"n \(frames to select\)"),
    (lambda: create_sampler("uniform").select(np.arange(10), 3), TypeError, r"candidates must be a framesampler.Candidates"),
    (lambda: create_sampler("uniform").select(Candidates.of_length(4), 3, context={"label": 1}), TypeError, r"context must be"),
    (lambda: Candidates(np.array([0, 5, 12]), 10), ValueError, r"frame_indices must lie in 0..num_frames-1 = 0..9"),
    (lambda: Candidates(np.array([0.5, 2.0]), 10), TypeError, r"frame_indices must be a 1-D array of integer"),
    (lambda: Candidates.of_length(3, features=[["a", "b"]] * 3), TypeError, r"candidates.features must be a numeric"),
    (lambda: Candidates.of_length(3, features=np.array([[1.0, np.inf]] * 3)), ValueError, r"candidates.features holds NaN or inf"),
    (lambda: Candidates.of_length(3, pixels=np.zeros((3, 4, 4))), ValueError, r"candidates.pixels must have 4 dimensions"),
    (lambda: Candidates.of_length(3, fps=float("nan")), ValueError, r"fps must be a finite number > 0"),
    (lambda: Context(consensus="median"), ValueError, r"unknown consensus 'median'"),
])
def test_misuse_is_refused_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_numpy_logits_are_accepted_like_a_tensor():
    z = RNG.normal(size=(10, 5))
    context = Context(frame_logits=z, label=2)
    assert isinstance(context.frame_logits, torch.Tensor)
    for name in ("semi_optimal_max", "semi_optimal_label", "oracle"):
        picked = create_sampler(name).select(Candidates.of_length(10), 3, context=context)
        assert picked.tolist() == create_sampler(name).select(Candidates.of_length(10), 3,
                                                              context=Context(frame_logits=torch.from_numpy(z), label=2)).tolist()


def test_learned_sampler_names_a_feature_size_it_was_not_built_for():
    sampler = create_sampler("sosampler", input_dim=6, num_classes=3, width=8)
    with pytest.raises(ValueError, match=r"candidates.features are 5-d, but 'sosampler' takes 6-d"):
        sampler.select(Candidates.of_length(4, features=np.zeros((4, 5))), 2)


# --- the property test: every registered sampler, random and broken inputs -------------------------------

D, C = 6, 3
SMALL = {"input_dim": D, "num_classes": C, "width": 8, "dropout": 0.0}
OPTIONS = {"smart": {**SMALL, "mlp_hidden": 8, "lstm_hidden": 8}, "adaframe": {**SMALL, "K": 4, "memory_frames": 4},
           "sc_combined": {"first": "frameexit", "second": "semi_optimal_max"}}


def build(name: str):
    factory = sampler_factory(name)
    learned = isinstance(factory, type) and issubclass(factory, LearnedSampler)
    return create_sampler(name, **OPTIONS.get(name, SMALL if learned else {}))


SAMPLERS = {name: build(name) for name in list_samplers()}
NAMES = r"features|pixels|frame_logits|label|\bn\b|num_frames|frame_indices|consensus|context|candidates|rng"


@st.composite
def inputs(draw):
    """(name, T, candidates thunk, n, context thunk, bad, absent, odd): ``bad`` names the arguments made
    invalid (always refused), ``absent`` those left out (refused when the sampler reads them), ``odd`` those
    only some samplers may refuse (a learned sampler's feature size, checked when it reads them)."""
    name = draw(st.sampled_from(sorted(SAMPLERS)))
    t = draw(st.integers(0, 8))
    bad: set[str] = set()
    absent: set[str] = set()
    odd: set[str] = set()
    values = st.floats(-50, 50, width=32)

    def array(shape, kind):
        a = np.asarray(draw(st.lists(values, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
                       dtype=np.float32).reshape(shape)
        if kind == "nonfinite" and a.size:
            a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return a

    kind = draw(st.sampled_from(["ok", "ok", "absent", "nonfinite", "rows", "dims", "type"]))
    features = None
    if kind == "absent":
        absent.add("features")
    elif kind == "type":
        features, _ = [["x"] * D] * t, bad.add("features")
    else:
        rows = (t + draw(st.sampled_from([-1, 1])) if t else 1) if kind == "rows" else t
        features = array((rows, D + (1 if kind == "dims" else 0)), kind)
        if kind in ("nonfinite", "rows") and (kind != "nonfinite" or features.size):
            bad.add("features")
        if kind == "dims":
            odd.add("features")
    kind = draw(st.sampled_from(["absent", "ok", "nonfinite", "shape"]))
    pixels = None
    if kind == "absent":
        absent.add("pixels")
    else:
        pixels = array((t, 2, 2, 3) if kind != "shape" else (t, 2, 2), kind)
        if kind == "shape" or (kind == "nonfinite" and pixels.size):
            bad.add("pixels")
    kind = draw(st.sampled_from(["ok", "ok", "numpy", "absent", "nonfinite", "rows", "type", "flat"]))
    frame_logits = None
    if kind == "absent":
        absent.add("frame_logits")
    elif kind == "type":
        frame_logits, _ = "logits", bad.add("frame_logits")
    elif kind == "flat":
        frame_logits, _ = torch.zeros(t), bad.add("frame_logits")
    else:
        rows = t + 1 if kind == "rows" else t
        frame_logits = array((rows, C), kind)
        frame_logits = frame_logits if kind == "numpy" else torch.from_numpy(frame_logits)
        if kind == "rows" or (kind == "nonfinite" and frame_logits.numel()):
            bad.add("frame_logits")
    label = draw(st.sampled_from([0, 1, 2, None, -1, 3, True, 1.0, "1"]))
    if label is None:
        absent.add("label")
    elif label in (-1, "1") or isinstance(label, (bool, float)) or (label == 3 and frame_logits is not None):
        bad.add("label")
    n = draw(st.sampled_from([0, 1, 2, 3, 5, 9, np.int64(2), -1, True, 2.5, "3", None]))
    if isinstance(n, (bool, float, str)) or n is None or n < 0:
        bad.add("n")
    consensus = draw(st.sampled_from(["avg_logits", "avg_probs", "max", "median"]))
    if consensus == "median":
        bad.add("consensus")
    wrong_container = draw(st.sampled_from([None, None, None, None, "candidates", "context"]))
    if wrong_container:
        bad.add(wrong_container)
    num_frames = t if draw(st.booleans()) else t + 3

    def candidates():
        return np.arange(t) if wrong_container == "candidates" else \
            Candidates(np.arange(t), num_frames, features=features, pixels=pixels)

    def context():
        return {"label": label} if wrong_container == "context" else \
            Context(frame_logits=frame_logits, label=label, consensus=consensus)
    return name, t, candidates, n, context, bad, absent, odd


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs())
def test_select_of_every_sampler_answers_right_or_refuses_naming_the_argument(case):
    name, t, candidates, n, context, bad, absent, odd = case
    sampler = SAMPLERS[name]
    suspects = bad | absent | odd
    try:
        picked = sampler.select(candidates(), n, context=context())
    except (ValueError, TypeError) as err:
        named = [b for b in suspects if b in str(err)] or (["n"] if "n (frames" in str(err) and "n" in bad else [])
        assert named, f"{name}: {type(err).__name__} {err!s} names none of the bad arguments {sorted(suspects)}"
        return
    assert isinstance(picked, np.ndarray) and picked.dtype == np.int64
    assert np.all(np.diff(picked) > 0) and (len(picked) == 0 or (picked[0] >= 0 and picked[-1] < t))
    assert len(picked) <= (t if name == "dense" else min(n, t))
    assert not bad, f"{name} accepted bad {sorted(bad)}"
    assert not {"frame_logits", "label"} & absent & reads(sampler), f"{name} ran without {sorted(absent)}"
    inputs = {"features", "pixels"} & reads(sampler)
    assert not inputs or not inputs <= absent, f"{name} ran without {sorted(inputs)}"


def reads(sampler) -> set[str]:
    return {flag.name.lower() for flag in Reads if flag and flag in sampler.reads}
