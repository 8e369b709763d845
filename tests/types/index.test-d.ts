// Type tests for node_bridge/index.d.ts, run by tests/node_bridge/types.test.js (tsc --noEmit).
// A line under `@ts-expect-error` must fail to compile; if it compiles, tsc reports the unused directive.

import { WhisperSidecar } from '../../node_bridge';
import type {
  GpuStatus, ListModelsResult, LoadModelResult, SidecarStatus, StreamResult, TranscribeParams, TranscribeResult,
} from '../../node_bridge';

declare const sidecar: WhisperSidecar;

export async function transcribeParams(): Promise<void> {
  await sidecar.transcribe('a.flac', { language: 'en', task: 'translate', beam_size: 5, word_timestamps: true });
  await sidecar.transcribe('a.flac', { language: null, model: null, device: 'cpu', batch_size: 8, vad_filter: true });
  // @ts-expect-error a typo'd param is not a param (the sidecar would answer -32602)
  await sidecar.transcribe('a.flac', { langauge: 'en' });
  // @ts-expect-error task is transcribe or translate
  await sidecar.transcribe('a.flac', { task: 'summarize' });
  // @ts-expect-error device is auto, cuda or cpu
  await sidecar.transcribe('a.flac', { device: 'gpu' });
  // @ts-expect-error path is the first argument, not a param
  const withPath: TranscribeParams = { path: 'a.flac' };
  void withPath;
}

export async function results(): Promise<void> {
  const result: TranscribeResult = await sidecar.transcribe('a.flac');
  const text: string = result.text;
  const words = result.segments[0].words;
  const probability: number | undefined = words && words[0].probability;
  // @ts-expect-error rtf is null for audio of no duration
  const rtf: number = result.rtf;
  // @ts-expect-error a result has no keys beyond the declared ones
  void result.nope;
  void text; void probability; void rtf;

  const status: GpuStatus = await sidecar.gpuStatus({ wait: false });
  // @ts-expect-error device is null until the device is decided
  const device: 'cuda' | 'cpu' = status.device;
  const done: boolean = status.setup_complete;
  const streams: number = status.queue.streams;
  const loaded: string = status.loaded_models[0].path;
  const modelError: string | null = status.model_error;
  void device; void done; void streams; void loaded; void modelError;
  // @ts-expect-error gpu_status takes recheck and wait only
  await sidecar.gpuStatus({ force: true });

  const model: LoadModelResult = await sidecar.loadModel({ model: 'base', device: 'cpu' });
  const loadS: number = model.load_s;
  // @ts-expect-error load_model's result has a fixed shape
  void model.anything;
  // @ts-expect-error load_model takes model and device only
  await sidecar.loadModel({ modle: 'base' });
  void loadS;

  const list: ListModelsResult = await sidecar.listModels();
  const repo: string | null = list.models[0].repo;
  const created: number = list.models[0].created;
  // @ts-expect-error the default model is null when it is a folder
  const defaultModel: string = list.default_model;
  void repo; void created; void defaultModel;
}

export async function streams(): Promise<void> {
  const stream = await sidecar.openStream({ format: 'pcm_s16le', sample_rate: 16000, silence_ms: 300 });
  // @ts-expect-error format is one of the sidecar's formats
  await sidecar.openStream({ format: 'aiff' });
  // @ts-expect-error a typo'd stream param
  await sidecar.openStream({ silence: 300 });
  stream.on('segment', (segment) => {
    const final: boolean = segment.final;
    void final;
  });
  stream.on('speech', (speech) => {
    const event: 'started' | 'stopped' | 'committed' = speech.event;
    void event;
  });
  const result: StreamResult = await stream.close();
  const gaps: number = result.gaps;
  const error: string | null = result.error;
  void gaps; void error;
}

export function statuses(status: SidecarStatus): void {
  const live: SidecarStatus['stage'] = 'live';
  void live; void status;
}
