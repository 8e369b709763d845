/// <reference types="node" />
import { EventEmitter } from 'node:events';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

export type SidecarState = 'starting' | 'ready' | 'stopping' | 'stopped' | 'crashed';
export type Device = 'cuda' | 'cpu';
export type Stage =
  | 'starting' | 'gpu_setup' | 'loading_model' | 'downloading_model' | 'transcribing' | 'fallback' | 'done' | 'error'
  | 'live';

// The wire types (every method's params and result, every notification) are generated from the
// protocol's JSON Schema files into ./protocol.d.ts (scripts/gen-types.js); only the API's own types are here.
import type * as Wire from './protocol';
export type {
  ReadyInfo, Word, Segment, SegmentNotification, StreamSegmentNotification, GpuStatusParams, GpuStatus, LoadedModel,
  QueueDepth, LoadModelParams, LoadModelResult, Timings, StreamOpenParams, StreamInfo, StreamSegment, StreamSpeech,
  StreamWriteResult, CancelResult, PingResult, ListModelsResult, CachedModel, Protocol,
} from './protocol';
import type {
  ReadyInfo, Segment, SegmentNotification, GpuStatusParams, GpuStatus, LoadModelParams, LoadModelResult, StreamOpenParams,
  StreamInfo, StreamSegment, StreamSpeech, StreamWriteResult, ListModelsResult,
} from './protocol';

/** Params of a `status` notification (request_id is null for startup statuses). */
export type SidecarStatus = Wire.SidecarStatus;

/** The `transcribe` params besides `path`, exactly as the sidecar names them (null: the default). */
export type TranscribeParams = Omit<Wire.TranscribeParams, 'path'>;

/** A transcription's result; `retried` is set by the bridge, not the sidecar. */
export interface TranscribeResult extends Wire.TranscribeResult {
  retried?: RetryNote;
}

/** What close() resolves with: the stream's whole transcript (stream_close's result). */
export type StreamResult = Wire.StreamCloseResult;


/** 'auto' (or null): the device the sidecar decided on. */
export type DeviceRequest = 'auto' | 'cuda' | 'cpu';


/** Set on a result whose request was re-sent to a restarted sidecar. */
export interface RetryNote {
  /** How the previous process ended, e.g. "signal SIGKILL". */
  reason: string;
  attempt: number;
  /** Set when the crash was a CUDA crash and the retry ran with FORCE_CPU=1. */
  fallback_reason: string | null;
}


export interface RequestOptions {
  /** Aborting sends `cancel` to the sidecar and rejects with a SidecarError named 'AbortError'. */
  signal?: AbortSignal;
  /** ms until the request rejects with `timedOut: true`; 0 = none. Default: the `timeouts` option. */
  timeout?: number;
  /** This request's `status` notifications only. */
  onStatus?: (status: SidecarStatus) => void;
  /** This request's segments only, in the order the sidecar decodes them. */
  onSegment?: (segment: Segment, notification: SegmentNotification) => void;
}

export interface RetryInfo {
  /** How the previous process ended, e.g. "signal SIGKILL". */
  reason: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The retry runs with FORCE_CPU=1. */
  forceCpu: boolean;
  /** true when this crash switched the sidecar to the CPU. */
  cudaFallback: boolean;
  fallbackReason: string | null;
  /** The request's id on the process that crashed. */
  previousId: number;
  /** 2 for the first retry. */
  attempt: number;
}

export interface TranscribeOptions extends RequestOptions {
  /** Called when the request is re-sent to a restarted sidecar; segments then start again from the first. */
  onRetry?: (info: RetryInfo) => void;
}

export interface PythonCommand {
  command: string;
  args: string[];
  source: 'option' | 'WHISPER_SIDECAR_PYTHON' | '.venv' | 'PATH';
  /** sys.executable, known when the candidate was probed (PATH), else null. */
  executable: string | null;
  version: string | null;
}

export interface Logger {
  debug?(message: string): void;
  warn?(message: string): void;
}

export type SpawnFunction = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface WhisperSidecarOptions {
  /** A path, a command, or [command, ...args] such as ['py', '-3']. Default: discovery (see README). */
  python?: string | string[];
  /** The folder whose .venv is searched. Default: `cwd`, else the folder that holds node_bridge/. */
  projectRoot?: string;
  /** The sidecar's working directory. Default: projectRoot. */
  cwd?: string;
  /** The sidecar's arguments after the Python command. Default ['-m', 'sidecar']. */
  args?: string[];
  /** Extra environment for the sidecar (merged over process.env unless extendEnv is false). */
  env?: Record<string, string | undefined>;
  extendEnv?: boolean;
  /** WHISPER_MODEL */
  model?: string;
  /** WHISPER_DEVICE: 'auto' | 'cuda' | 'cpu' */
  device?: string;
  /** WHISPER_CACHE_DIR */
  cacheDir?: string;
  /** WHISPER_PRELOAD (true → '1', false → '0') */
  preload?: boolean;
  /** Start with FORCE_CPU=1. */
  forceCpu?: boolean;
  /** Default child_process.spawn; tests pass fakes. */
  spawn?: SpawnFunction;
  /** ms to wait for `ready`; past it the process is killed and it counts as a crash. Default 60000; 0 = none. */
  startTimeoutMs?: number;
  /** Per-method timeouts in ms (0 = none). Defaults: ping 5000, gpu_status 10000, cancel 5000, load_model 0, transcribe 0. */
  timeouts?: Record<string, number>;
  /** After a CUDA crash, restart with FORCE_CPU=1. Default true. */
  cudaFallback?: boolean;
  /** Re-send an in-flight transcribe once to the restarted sidecar. Default true. */
  retryOnCrash?: boolean;
  /** Give up after this many crashes within crashWindowMs. Default 3. */
  crashLimit?: number;
  /** Default 60000. */
  crashWindowMs?: number;
  /** First restart delay; doubles per crash in the window. Default 250. */
  restartDelayMs?: number;
  /** Default 5000. */
  maxRestartDelayMs?: number;
  /** stop(): how long after `shutdown` and closing stdin before SIGTERM. Default 5000. */
  gracefulStopMs?: number;
  /** stop(): how long after SIGTERM before SIGKILL. Default 2000. */
  forceKillAfterMs?: number;
  /** stderr lines kept for crash errors. Default 50. */
  stderrTailLines?: number;
  /** Longest stdout line accepted. Default 256 MiB. */
  maxLineBytes?: number;
  /** Where warnings go (non-JSON stdout lines, kills). Default console.warn; null silences. */
  logger?: Logger | null | false;
}

export interface ExitInfo {
  pid: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** true when stop() asked for it. */
  expected: boolean;
}

export interface RestartInfo {
  /** Crashes within the window so far. */
  attempt: number;
  delayMs: number;
  /** How the process ended, e.g. "exit code 1", "signal SIGABRT", "no ready notification within … ms". */
  reason: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The next process runs with FORCE_CPU=1. */
  forceCpu: boolean;
  /** true when this crash switched the sidecar to the CPU. */
  cudaFallback: boolean;
  fallbackReason: string | null;
}

/** Params of a stream's `status` notification (stage 'live' about once a second while audio flows). */
export interface StreamStatus extends SidecarStatus {
  stream_id: string;
  lag_s?: number;
  buffered_s?: number;
  received_s?: number;
}


export type StreamState = 'open' | 'closing' | 'closed' | 'aborted' | 'lost';

export interface SidecarStreamEvents {
  segment: [segment: StreamSegment, notification: { stream_id: string; segment: StreamSegment }];
  status: [status: StreamStatus];
  speech: [speech: StreamSpeech];
  /** The sidecar process ended under the stream; open a new one to go on. */
  lost: [error: SidecarError];
  end: [state: StreamState];
}

type StreamListener<K extends keyof SidecarStreamEvents> = (...args: SidecarStreamEvents[K]) => void;

export declare class SidecarStream extends EventEmitter {
  readonly id: string;
  readonly info: StreamInfo;
  readonly state: StreamState;
  readonly lastWrite: StreamWriteResult | null;
  write(bytes: Uint8Array): Promise<StreamWriteResult>;
  gap(seconds: number, options?: { bytes?: Uint8Array }): Promise<StreamWriteResult>;
  /** The next bytes start a new container; on PCM: everything so far is a finished turn, commit it now. */
  reset(): Promise<StreamWriteResult>;
  /** Flushes and finishes: the result (text, segments, duration, device, …). */
  close(): Promise<StreamResult>;
  abort(): Promise<{ stream_id: string; aborted: boolean }>;
  on<K extends keyof SidecarStreamEvents>(event: K, listener: StreamListener<K>): this;
  once<K extends keyof SidecarStreamEvents>(event: K, listener: StreamListener<K>): this;
  off<K extends keyof SidecarStreamEvents>(event: K, listener: StreamListener<K>): this;
}

export interface OpenStreamOptions {
  onSegment?: StreamListener<'segment'>;
  onStatus?: StreamListener<'status'>;
  onSpeech?: StreamListener<'speech'>;
  timeout?: number;
}

export interface WhisperSidecarEvents {
  ready: [info: ReadyInfo];
  status: [status: SidecarStatus];
  segment: [notification: SegmentNotification];
  /** A live stream's turn event (also emitted on the stream itself). */
  speech: [speech: StreamSpeech];
  stderr: [line: string];
  exit: [info: ExitInfo];
  restart: [info: RestartInfo];
  fatal: [error: SidecarError];
  state: [state: SidecarState];
  notification: [method: string, params: unknown];
}

type Listener<K extends keyof WhisperSidecarEvents> = (...args: WhisperSidecarEvents[K]) => void;

/** What happens to work the sidecar died under: the bridge's re-sends and a job owner's re-queue. */
export declare class RetryPolicy {
  constructor(options?: { resends?: number; attempts?: number });
  /** Re-sends of one call after a crash (0: none). */
  readonly resends: number;
  /** Calls per job, counting the first. */
  readonly attempts: number;
  /** Whether a job whose call number `attempts` failed with `error` runs again. */
  requeue(error: SidecarError | Error | null | undefined, attempts: number): boolean;
}

export declare class WhisperSidecar extends EventEmitter {
  constructor(options?: WhisperSidecarOptions);
  /** The retry policy this sidecar's re-sends follow. */
  readonly retryPolicy: RetryPolicy;
  readonly state: SidecarState;
  readonly pid: number | null;
  readonly info: ReadyInfo | null;
  readonly python: PythonCommand | null;
  /** Why the bridge moved the sidecar to the CPU after a CUDA crash, or null. */
  readonly fallbackReason: string | null;
  readonly fatalError: SidecarError | null;
  /** Resolves with the `ready` params; rejects when Python is not found, on stop(), or on give-up. */
  start(): Promise<ReadyInfo>;
  /** `shutdown`, close stdin, SIGTERM, SIGKILL; rejects everything pending; resolves once the process is gone. */
  stop(): Promise<void>;
  ping(options?: RequestOptions): Promise<{ pong: true; uptime_s: number }>;
  gpuStatus(params?: GpuStatusParams, options?: RequestOptions): Promise<GpuStatus>;
  loadModel(params?: LoadModelParams, options?: RequestOptions): Promise<LoadModelResult>;
  /** list_models: the models the sidecar has without a download, its default model, the names it could download. */
  listModels(options?: RequestOptions): Promise<ListModelsResult>;
  transcribe(path: string, params?: TranscribeParams, options?: TranscribeOptions): Promise<TranscribeResult>;
  /** stream_open: a live stream to write bytes to; segments, speech and status come as events. */
  openStream(params?: StreamOpenParams, options?: OpenStreamOptions): Promise<SidecarStream>;
  request<T = unknown>(method: string, params?: object, options?: RequestOptions & { retries?: number }): Promise<T>;

  on<K extends keyof WhisperSidecarEvents>(event: K, listener: Listener<K>): this;
  once<K extends keyof WhisperSidecarEvents>(event: K, listener: Listener<K>): this;
  off<K extends keyof WhisperSidecarEvents>(event: K, listener: Listener<K>): this;
  addListener<K extends keyof WhisperSidecarEvents>(event: K, listener: Listener<K>): this;
  removeListener<K extends keyof WhisperSidecarEvents>(event: K, listener: Listener<K>): this;
  emit<K extends keyof WhisperSidecarEvents>(event: K, ...args: WhisperSidecarEvents[K]): boolean;
}

export type ClientKind =
  | 'timeout' | 'aborted' | 'exited' | 'stopped' | 'fatal' | 'not_running' | 'spawn_failed' | 'python_not_found';

export declare class SidecarError extends Error {
  /** 'AbortError' for aborted requests, else 'SidecarError'. */
  name: 'SidecarError' | 'AbortError';
  /** The JSON-RPC code from the sidecar; -32800 for an abort; null for other errors raised in Node. */
  code: number | null;
  /** The `data` of the sidecar's error object, or bridge details ({kind, stderr, tried, …}). */
  data: ({ kind?: string; [key: string]: unknown }) | null;
  /** data.kind from the sidecar (file_not_found, not_audio, model_unavailable, queue_full, cuda_error, …) or a ClientKind. */
  kind: ClientKind | (string & {}) | null;
  method: string | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  isCanceled: boolean;
  /** The process exited, was stopped, or the bridge gave up. */
  isTerminated: boolean;
  /** The bridge gave up (crash limit, or the sidecar cannot be spawned). */
  isFatal: boolean;
  cause?: unknown;
}

export declare const ErrorCodes: Readonly<{
  ParseError: -32700;
  InvalidRequest: -32600;
  MethodNotFound: -32601;
  InvalidParams: -32602;
  InternalError: -32603;
  RequestCancelled: -32800;
  ServerErrorStart: -32099;
  ServerErrorEnd: -32000;
}>;

export declare const ClientKinds: Readonly<{
  Timeout: 'timeout';
  Aborted: 'aborted';
  Exited: 'exited';
  Stopped: 'stopped';
  Fatal: 'fatal';
  NotRunning: 'not_running';
  SpawnFailed: 'spawn_failed';
  PythonNotFound: 'python_not_found';
}>;

export declare const States: Readonly<{
  Starting: 'starting';
  Ready: 'ready';
  Stopping: 'stopping';
  Stopped: 'stopped';
  Crashed: 'crashed';
}>;

export interface ReporterOptions {
  /** Default console.log. */
  write?: (line: string) => void;
  /** Default console.error. */
  writeError?: (line: string) => void;
  /** Also print the sidecar's stderr lines, prefixed "[sidecar] ". Default false. */
  stderr?: boolean;
  /** On every ready, ask gpu_status and print the library line and the fallback reason. Default true. */
  gpuSummary?: boolean;
}

/** Prints the old relay's console lines for a sidecar's events; returns a function that detaches it. */
export declare function attachConsoleReporter(sidecar: WhisperSidecar, options?: ReporterOptions): () => void;

export interface FindPythonOptions {
  python?: string | string[];
  env?: NodeJS.ProcessEnv;
  projectRoot?: string;
  platform?: NodeJS.Platform;
  /** PATH candidates must be able to import this module (e.g. 'sidecar'). */
  module?: string | null;
}

/** Python discovery: option, WHISPER_SIDECAR_PYTHON, the project's .venv, then PATH. Rejects with kind 'python_not_found'. */
export declare function findPython(options?: FindPythonOptions): Promise<PythonCommand>;
export declare function findPythonSync(options?: FindPythonOptions): PythonCommand;
