"""The official `openai` Python package against the relay, as a user would write it.

Usage: python openai_client.py BASE_URL AUDIO_FILE [SHORT_AUDIO_FILE]
Prints one JSON object: the stream's events with the seconds since the request ("at"), the models
listed, one retrieved, and the error a missing model raises; with SHORT_AUDIO_FILE, also its json
transcription with include=["logprobs"] ("logprobs") and its stream with them ("logprobs_events"). tests/relay/openai-python.test.js runs it.
"""

import json
import sys
import time

import openai
from openai import OpenAI


def main(base_url, audio, short=None):
    client = OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=300)
    out = {"openai_version": openai.__version__, "events": []}
    t0 = time.perf_counter()
    with open(audio, "rb") as f:
        stream = client.audio.transcriptions.create(file=f, model="whisper-1", language="en", stream=True)
        for event in stream:
            item = event.model_dump(exclude_none=True)
            item["class"] = type(event).__name__
            item["at"] = time.perf_counter() - t0
            out["events"].append(item)
    with open(audio, "rb") as f:
        out["json"] = client.audio.transcriptions.create(file=f, model="whisper-1", language="en").model_dump()
    if short:
        with open(short, "rb") as f:
            out["logprobs"] = client.audio.transcriptions.create(
                file=f, model="whisper-1", language="en", include=["logprobs"]).model_dump()
        with open(short, "rb") as f:
            stream = client.audio.transcriptions.create(file=f, model="whisper-1", language="en", stream=True,
                                                        include=["logprobs"])
            out["logprobs_events"] = [event.model_dump(exclude_none=True) for event in stream]
    out["models"] = [m.model_dump() for m in client.models.list()]
    out["retrieved"] = client.models.retrieve("whisper-1").model_dump()
    try:
        client.models.retrieve("no-such-model")
        out["missing"] = None
    except openai.NotFoundError as e:
        out["missing"] = {"status": e.status_code, "code": e.code, "type": e.type, "class": type(e).__name__}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:4])
