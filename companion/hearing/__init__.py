"""Hearing: audio sources, endpointing and the command recognizers.

The live loop's whole view of it:

    rec = make_recognizer(Vocabulary(Library().aliases()), config.engine, config.model_path)
    for utt in rec.utterances(MicSource(config.input_device).frames()):
        intent = vocabulary.parse(utt.text)   # utt.start / utt.end are audio seconds
"""

from companion.hearing.endpoint import EndpointConfig, Endpointer, Segment
from companion.hearing.engines import choose_engine, make_recognizer
from companion.hearing.recognizer import Hearing, Recognizer, Utterance
from companion.hearing.sources import Frame, MicSource, WavSource

__all__ = [
    "EndpointConfig", "Endpointer", "Segment", "choose_engine", "make_recognizer",
    "Hearing", "Recognizer", "Utterance", "Frame", "MicSource", "WavSource",
]
