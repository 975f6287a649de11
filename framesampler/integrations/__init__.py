"""Thin optional adapters to the libraries users already load videos with.

Each module imports its library lazily, inside functions, so ``import framesampler`` never needs them:

- ``hf``: Hugging Face transformers (``load_video(..., sample_indices_fn=...)``, video processors), extra ``[hf]``;
- ``mmaction2``: the ``FrameSamplerSampleFrames`` transform for mmaction2 pipelines;
- ``pytorchvideo``: ``FrameSamplerTemporalSubsample``, in place of ``UniformTemporalSubsample``;
- ``torchcodec``: ``clips_at_sampler_indices``, beside torchcodec's own samplers;
- ``ray``: ``RaySampler`` for ``ray.data`` and ``run_batch_ray`` for large collections, extra ``[ray]``.

All of them run the same two-resolution pipeline as ``framesampler sample`` (``common.pipeline_for``).
"""
