"""Ray: sample a video collection that outgrows one machine with ``ray.data`` and an actor pool.

:class:`RaySampler` is a callable class for ``Dataset.map_batches``: each actor loads the pipeline of
``framesampler sample`` once and maps a batch of ``path`` rows to the path, the chosen frame indices,
their timestamps, the prediction and the full per-video summary (the JSON line ``framesampler batch``
writes), or the one-line reason a video could not be read. :func:`run_batch_ray` runs it over a list of
paths, on a local Ray started on loopback only (no dashboard, no usage stats) or, with ``address`` (or
``$RAY_ADDRESS``), on an existing cluster (``"auto"``, ``"HOST:6379"`` or ``"ray://HOST:10001"``) whose
workers have framesampler installed and see the same paths.

The actor pool is sized from the CPUs left after one is kept for Ray Data's own read and bookkeeping
tasks: on 2 CPUs a pool of 2 actors with one CPU each would starve them.

:func:`extract_runner` is ``framesampler extract --ray``'s: :class:`RayExtractor` actors each build the extraction
networks once (the user's classifier loaded from its spec and checked by fingerprint on every worker) and turn a
video path into its cache arrays, which travel back to the driver; the driver writes every cache entry atomically,
so a rerun skips finished videos and the dataset file is the same as a local run's. A video that cannot be read
comes back with its one-line reason and is skipped, as locally. ``num_gpus``: per actor, on a cluster with GPUs
(the actors then run the networks on CUDA, ``batch_size`` frames at a time, in the config's ``precision``).
``iter_batch_ray``'s ``options`` go to ``load_pipeline``: ``device``, ``batch_size`` and ``precision`` among them.
"""
from __future__ import annotations

import io
import json
import os
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from framesampler.device import DEFAULT_BATCH_SIZE, check_batch_size, check_precision
from framesampler.integrations.common import SamplerSpec, pipeline_for
from framesampler.video.decode import VideoError

if TYPE_CHECKING:
    from framesampler.app.extract import Runner
    from framesampler.data.dataset import ExtractConfig

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2


class RaySampler:
    """``map_batches`` callable: ``{"path": [...]}`` -> ``{"path", "frames", "timestamps", "prediction",
    "prob", "summary", "error"}`` (one row per path; ``summary`` is the JSON of ``SampledVideo.summary()``
    or ``{"video", "error"}``). ``threads``: torch threads per actor (match the actor's ``num_cpus``)."""

    def __init__(self, sampler: str, *, T: int, N: int, threads: int = 1, **options) -> None:
        torch.set_num_threads(threads)
        self.pipeline = pipeline_for(sampler, T=T, N=N, **options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [self.sample(str(path)) for path in batch["path"]]
        chosen = [row.get("chosen", []) for row in rows]
        return {
            "path": np.asarray([str(path) for path in batch["path"]]),
            "frames": _objects([[c["frame"] for c in row] for row in chosen]),
            "timestamps": _objects([[c["time"] for c in row] for row in chosen]),
            "prediction": np.asarray([row["prediction"][0]["class"] if "prediction" in row else "" for row in rows]),
            "prob": np.asarray([row["prediction"][0]["prob"] if "prediction" in row else np.nan for row in rows]),
            "summary": np.asarray([json.dumps(row) for row in rows]),
            "error": np.asarray([row.get("error", "") for row in rows]),
        }

    def sample(self, path: str) -> dict:
        """One video's summary, or ``{"video", "error"}`` with the one-line reason it cannot be read."""
        try:
            return self.pipeline(path).summary()
        except (VideoError, ValueError) as error:
            return {"video": path, "error": str(error)}


def _objects(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def iter_batch_ray(paths: Iterable[str | os.PathLike], sampler: SamplerSpec, *, T: int, N: int,
                   address: str | None = None, num_actors: int | None = None, progress: bool = False,
                   **options) -> Iterator[dict]:
    """Per-video summaries (``SampledVideo.summary()`` or ``{"video", "error"}``) as the actors finish them,
    in no set order. Connects to ``address`` (default: ``$RAY_ADDRESS``), or else starts a loopback Ray when
    none is running (and stops it after). ``num_actors``: the pool size (default: the cluster's CPUs less
    one, at least one); each actor takes one CPU. ``options`` go to ``load_pipeline``."""
    for row in _map_paths(paths, RaySampler, dict(sampler=str(sampler), T=T, N=N, threads=1, **options), address=address,
                          num_actors=num_actors, progress=progress):
        yield json.loads(row["summary"])


def _map_paths(paths: Iterable[str | os.PathLike], actor: type, kwargs: dict, *, address: str | None,
               num_actors: int | None, progress: bool, num_gpus: float = 0) -> Iterator[dict]:
    """The rows ``actor(**kwargs)`` maps each ``{"path"}`` to, on an actor pool (one CPU each, ``num_gpus`` each),
    as they finish. Connects to ``address`` (default ``$RAY_ADDRESS``) or starts a loopback Ray, stopped after."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        for key, value in LOOPBACK_ENV.items():  # read when ray is first imported
            os.environ.setdefault(key, value)
    import ray

    paths = [str(path) for path in paths]
    if not paths:
        return
    started = _connect(ray, address)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = progress
        pool = num_actors or max(1, int(ray.cluster_resources().get("CPU", 1)) - 1)
        dataset = ray.data.from_items([{"path": path} for path in paths], override_num_blocks=min(len(paths), 4 * pool))
        results = dataset.map_batches(actor, batch_size=1, compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=1,
                                      num_gpus=num_gpus, fn_constructor_kwargs=kwargs)
        yield from results.iter_rows()
    finally:
        if started:
            ray.shutdown()


class RayExtractor:
    """``map_batches`` callable: ``{"path": [...]}`` -> ``{"path", "arrays" (the cache arrays as .npz bytes, empty
    when the video cannot be read), "error"}``. ``config``: an ``ExtractConfig`` as a dict; ``model``: the user's
    classifier's identity (``ModelClassifier.identity``), loaded here from its spec and checked by fingerprint, on
    ``device``, ``batch_size`` frames at a time, in the config's ``precision``."""

    def __init__(self, config: dict, model: dict | None = None, threads: int = 1, device: str = "cpu",
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        from framesampler.app.extract import Extractor
        from framesampler.classifiers.model import load_recorded
        from framesampler.data.dataset import ExtractConfig

        torch.set_num_threads(threads)
        extract_config = ExtractConfig(**config)
        classifier = None if model is None else \
            load_recorded(model, device=device, batch_size=batch_size, precision=extract_config.precision)
        self.extractor = Extractor(extract_config, classifier, device, batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        arrays, errors = [], []
        for path in batch["path"]:
            try:
                buffer = io.BytesIO()
                np.savez(buffer, allow_pickle=False, **self.extractor(Path(str(path))))
                arrays.append(buffer.getvalue())
                errors.append("")
            except VideoError as error:
                arrays.append(b"")
                errors.append(str(error))
        return {"path": np.asarray([str(p) for p in batch["path"]]), "arrays": _objects(arrays), "error": np.asarray(errors)}


def extract_runner(*, model: dict | None = None, address: str | None = None, num_actors: int | None = None,
                   num_gpus: float = 0, progress: bool = False, batch_size: int = DEFAULT_BATCH_SIZE) -> Runner:
    """``framesampler extract --ray``'s runner for ``app.extract.extract(runner=...)`` (see the module docstring)."""
    check_batch_size(batch_size)

    def run(config: ExtractConfig, paths: list[Path]) -> Iterator[tuple[Path, dict | None, str | None]]:
        if not num_gpus:  # CPU actors: a precision they cannot run is refused here, before the cluster starts
            check_precision(config.precision, "cpu")
        by_name = {str(path): path for path in paths}
        kwargs = dict(config=asdict(config), model=model, device="auto" if num_gpus else "cpu", batch_size=batch_size)
        for row in _map_paths(paths, RayExtractor, kwargs, address=address,
                              num_actors=num_actors, progress=progress, num_gpus=num_gpus):
            path = by_name[str(row["path"])]
            if row["error"]:
                yield path, None, str(row["error"])
            else:
                with np.load(io.BytesIO(row["arrays"]), allow_pickle=False) as data:
                    yield path, {key: data[key] for key in data.files}, None
    return run


def batch_records(sampler: SamplerSpec, *, T: int, N: int, address: str | None = None, num_actors: int | None = None,
                  **options) -> Callable[[list], Iterator[dict]]:
    """``framesampler batch --ray``'s runner for ``app.batch.run_batch(records=...)``: items -> summaries on Ray."""
    return lambda items: iter_batch_ray([item.video for item in items], sampler, T=T, N=N, address=address,
                                        num_actors=num_actors, **options)


def run_batch_ray(paths: Sequence[str | os.PathLike], sampler: SamplerSpec, *, T: int, N: int, address: str | None = None,
                  num_actors: int | None = None, progress: bool = False, **options) -> list[dict]:
    """:func:`iter_batch_ray`'s summaries in the order of ``paths`` (what ``framesampler batch --ray`` writes)."""
    by_path = {row["video"]: row for row in iter_batch_ray(paths, sampler, T=T, N=N, address=address,
                                                           num_actors=num_actors, progress=progress, **options)}
    return [by_path[str(path)] for path in paths]


def _connect(ray: types.ModuleType, address: str | None) -> bool:
    """Connect to ``address`` or start a loopback-only local Ray; True when this call started it."""
    if ray.is_initialized():
        return False
    if address is not None:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        return True
    ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", object_store_memory=LOCAL_OBJECT_STORE_BYTES,
             log_to_driver=False, configure_logging=False)
    return True
