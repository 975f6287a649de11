"""Video decoding: exact frame counts, only the asked frames decoded, resized while converting."""
from framesampler.video.decode import DecodedFrames, VideoError, VideoMetadata, VideoReader, list_backends, probe, read_frames
from framesampler.video.transforms import center_crop, output_size, resize_short_side

__all__ = ["DecodedFrames", "VideoError", "VideoMetadata", "VideoReader", "center_crop", "list_backends", "output_size", "probe",
           "read_frames", "resize_short_side"]
