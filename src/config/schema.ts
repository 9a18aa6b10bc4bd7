/**
 * The shape of davgate's validated configuration.
 *
 * The loader (`load.ts`) is the only module that reads YAML files and the environment; everything else
 * receives a frozen {@link Config}. Durations are milliseconds, sizes bytes.
 */

/** One upstream WebDAV account. */
export interface UpstreamConfig {
  /** Stable identifier used in metrics, logs and placement hashing. `[A-Za-z0-9_.-]{1,64}`. */
  readonly id: string;
  /** Origin plus base path, always ending in `/`, e.g. `https://dav.jianguoyun.com/dav/music/`. No userinfo. */
  readonly url: string;
  /** Basic-auth username for the upstream, if any. */
  readonly username?: string | undefined;
  /** Basic-auth password for the upstream, if any. Never logged or printed. */
  readonly password?: string | undefined;
  /** Maximum requests in flight to this upstream at once (>= 1). */
  readonly maxConcurrent: number;
  /** Relative HRW weight (> 0); an upstream of weight 2 owns about twice the keys of weight 1. */
  readonly weight: number;
  /** Disabled upstreams take no traffic and are not part of placement. */
  readonly enabled: boolean;
  /** Free text for operators. */
  readonly description?: string | undefined;
  /**
   * How the account behaves: `generic` (an ordinary WebDAV server) or `jianguoyun` (a 坚果云 account: a request
   * budget per window and `503 BlockedTemporarily` throttling, see docs/jianguoyun.md §1). Env:
   * `WEBDAV_PROFILE_n`. Default `generic`, except that a URL on `dav.jianguoyun.com` must state it (a config
   * error otherwise), and two enabled `jianguoyun` upstreams may not share origin and username (one budget).
   */
  readonly profile: 'generic' | 'jianguoyun';
  /**
   * Request budget: at most `requests` requests in any `windowMs` window, at least `minSpacingMs` apart. Every
   * upstream request counts (listing pages, ancestor MKCOLs, probes). Absent: no budget.
   */
  readonly budget?: { readonly requests: number; readonly windowMs: number; readonly minSpacingMs: number } | undefined;
  /** How long a throttled account rests after `503 BlockedTemporarily` (ms). */
  readonly coolingMs: number;
  /**
   * Create the base folder (the 坚果云 sandbox) at start when it is missing. Off by default, because a typo in
   * the URL would otherwise silently create a new, empty sandbox (jianguoyun.md §5: MKCOL `/dav/<name>` makes
   * a sync folder) and the app would see an empty store.
   */
  readonly createSandbox: boolean;
}

/** A front-side user for HTTP Basic authentication. */
export interface UserConfig {
  readonly username: string;
  /** A bcrypt hash (`$2a$`/`$2b$`/`$2y$`), as printed by `davgate hash-password`. */
  readonly passwordHash: string;
}

/** The whole configuration, validated and frozen. */
export interface Config {
  readonly listen: { readonly host: string; readonly port: number };
  /** Selection policy name; only `hash` (weighted rendezvous) exists today. */
  readonly strategy: 'hash';
  readonly upstreams: readonly UpstreamConfig[];
  readonly auth:
    | { readonly mode: 'none' }
    | { readonly mode: 'basic'; readonly realm: string; readonly users: readonly UserConfig[] };
  /** Bearer token for `/api/admin/*`; admin API is disabled (404) when unset. */
  readonly admin: { readonly token?: string | undefined };
  /**
   * Passive and active health (README "Health"). An upstream is marked down when, within `windowMs`, at least
   * `minRequests` outcomes were recorded and `failureRatio` of them failed, or after `failThreshold`
   * consecutive failures. While down it is probed every `downIntervalMs` and comes back on the first success.
   */
  readonly health: {
    /** Active probe interval of healthy upstreams (ms). `WEBDAV_HEALTH_CHECK_INTERVAL`. */
    readonly intervalMs: number;
    /**
     * Probe interval of a down upstream (ms), like HAProxy's `fastinter`. `DAVGATE_HEALTH_DOWN_INTERVAL_MS`.
     * An upstream with a request budget, or one that refused davgate's credentials, is probed at `intervalMs`
     * instead (see `upstream/prober.ts`).
     */
    readonly downIntervalMs: number;
    /** Timeout of one probe (ms). */
    readonly probeTimeoutMs: number;
    /** Consecutive failures (refused connections, timeouts, 5xx, 401/407) that mark an upstream down. */
    readonly failThreshold: number;
    /** Sliding window the failure ratio is computed over (ms). */
    readonly windowMs: number;
    /** Outcomes the window must hold before the ratio can mark an upstream down. */
    readonly minRequests: number;
    /** Share of failures in the window that marks an upstream down, in (0, 1]. */
    readonly failureRatio: number;
  };
  readonly limits: {
    /** Maximum requests waiting per upstream beyond `maxConcurrent`; past it, 503. */
    readonly queueLength: number;
    /** Maximum time a request may wait in an upstream queue (ms); past it, 503. */
    readonly queueTimeoutMs: number;
    /** Connect timeout to an upstream (ms). */
    readonly connectTimeoutMs: number;
    /** Time to wait for upstream response headers (ms); past it, 504. */
    readonly headersTimeoutMs: number;
    /** Maximum idle time between body chunks from an upstream (ms); past it the response is aborted. */
    readonly bodyTimeoutMs: number;
    /** Maximum request-body size accepted for XML bodies (PROPFIND, PROPPATCH, LOCK) (bytes). */
    readonly maxXmlBodyBytes: number;
    /**
     * Longest request path (and `Destination` path) accepted, percent-encoded as davgate sends it upstream, after
     * the upstream's base path (bytes). Checked before any upstream call; past it, 414 (400 for a Destination).
     */
    readonly maxPathBytes: number;
    /** Longest single name (path segment) accepted, UTF-8 decoded (bytes); past it, 414 (400 for a Destination). */
    readonly maxNameBytes: number;
    /**
     * Largest PUT body without `Content-Length` (chunked) that davgate spools to a temporary file so it can
     * send it with a length to an upstream that needs one (坚果云, jianguoyun.md §3). Past it: 413 (bytes).
     */
    readonly spoolMaxBytes: number;
    /** Directory for those temporary files; the OS temp directory when unset. */
    readonly spoolDir?: string | undefined;
  };
  readonly failover: {
    /**
     * Delay before the single retry of a request whose connection attempt failed, or that a safe method may
     * repeat after a transport error (ms). Never applied to a marked-down upstream (answered at once) nor to a
     * reused connection that died before any byte of its answer (resent at once).
     */
    readonly retryBackoffMs: number;
  };
  /** WebDAV locks held by davgate (RFC 4918 §6). Durations in seconds, as in the `Timeout` header (§10.7). */
  readonly locks: {
    /** Timeout granted when the client asks for none (s). */
    readonly defaultTimeoutS: number;
    /** Longest timeout granted; `Infinite` is capped to this (s). */
    readonly maxTimeoutS: number;
  };
  /**
   * Browser apps on other origins (the Fetch standard's CORS protocol, see `front/cors.ts`). `origins`: serialised
   * origins (`https://app.example.com`, `http://127.0.0.1:3000`) whose requests get CORS headers; empty (the
   * default) sends none. `*` is refused: davgate needs credentials, and browsers refuse them with `*`. Env:
   * `DAVGATE_CORS_ORIGINS` (comma-separated).
   */
  readonly cors: { readonly origins: readonly string[] };
  /** On SIGTERM, in-flight requests get this long to finish (ms). */
  readonly shutdownGraceMs: number;
  readonly log: { readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}

/** Defaults, written out as named constants so the example config and docs can cite them. */
export const DEFAULTS = {
  listenHost: '127.0.0.1',
  listenPort: 8080,
  maxConcurrent: 4,
  weight: 1,
  realm: 'davgate',
  healthIntervalMs: 30_000,
  /** HAProxy's `fastinter` idea: a back-up upstream is noticed within ~2 s, well inside the 5 s target (issue 8). */
  healthDownIntervalMs: 2_000,
  probeTimeoutMs: 10_000,
  /** Envoy's `consecutive_5xx` default; two refused connections per client request (attempt + retry). */
  failThreshold: 5,
  /** Envoy's outlier-detection `interval` default: long enough to see a pattern, short enough to forget. */
  healthWindowMs: 10_000,
  /** Fewer outcomes than this say too little for a ratio; the consecutive path covers light traffic. */
  healthMinRequests: 10,
  /** A majority failing: the odd 5xx among successes never takes a working account out. */
  healthFailureRatio: 0.5,
  queueLength: 1000,
  queueTimeoutMs: 30_000,
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 60_000,
  bodyTimeoutMs: 120_000,
  maxXmlBodyBytes: 1024 * 1024,
  /**
   * Linux PATH_MAX (4096, including the base folder) bounds what a file-system-backed upstream can store, and 4 KiB
   * of encoded path keeps the request line well under the common 8 KiB limits (Apache `LimitRequestLine` 8190,
   * nginx `large_client_header_buffers` 8k) and within IIS's `maxUrl` 4096 with a short base path. Encoded bytes
   * are never fewer than decoded ones, so the encoded length bounds both.
   */
  maxPathBytes: 4096,
  /** NAME_MAX of ext4, XFS, Btrfs and APFS/NTFS-sized names: 255 bytes per name. */
  maxNameBytes: 255,
  /** The vendor refuses single files over 500 MB anyway (jianguoyun.md §3), so a bigger spool buys nothing. */
  spoolMaxBytes: 500 * 1024 * 1024,
  retryBackoffMs: 200,
  /** 坚果云 budgets (jianguoyun.md §1) and the share davgate uses, leaving a safety margin. */
  jianguoyunFreeRequests: 600,
  jianguoyunPaidRequests: 1500,
  jianguoyunWindowMs: 30 * 60_000,
  jianguoyunBudgetShare: 0.9,
  /** The vendor's own client spaces requests 200 ms apart (jianguoyun.md §2). */
  jianguoyunMinSpacingMs: 200,
  /** A block lasts on the order of the 30-minute window (jianguoyun.md §1). */
  coolingMs: 30 * 60_000,
  lockDefaultTimeoutS: 3_600,
  lockMaxTimeoutS: 86_400,
  shutdownGraceMs: 10_000,
  logLevel: 'info',
} as const;
