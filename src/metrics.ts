/**
 * Every metric davgate exports, declared in one place (Prometheus conventions: `davgate_` prefix, unit
 * suffixes, `_total` counters, bounded labels, never a path as a label).
 *
 * Each gateway instance owns its own registry so that tests can run several gateways in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** prom-client default gauges whose names end in `_total` (prom-client 15, `lib/metrics/process*.js`). */
const NON_COUNTER_TOTALS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** Collapses an HTTP status to its class label, e.g. 404 → `4xx`; 499 (client closed) stays `499`. */
export function statusClass(status: number): string {
  if (status === 499) return '499';
  return `${Math.floor(status / 100)}xx`;
}

/** The set of metrics of one gateway. */
export class Metrics {
  readonly registry = new Registry();

  /** Front-side requests by WebDAV method and status class. */
  readonly httpRequests = new Counter({
    name: 'davgate_http_requests_total',
    help: 'Requests answered by davgate, by method and status class.',
    labelNames: ['method', 'status_class'] as const,
    registers: [this.registry],
  });

  /** Front-side latency (seconds), from request received to response finished. */
  readonly httpDuration = new Histogram({
    name: 'davgate_http_request_duration_seconds',
    help: 'Time from request received to response finished, by method.',
    labelNames: ['method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** Requests sent to upstreams by method, upstream and status class (`error` for transport errors). */
  readonly upstreamRequests = new Counter({
    name: 'davgate_upstream_requests_total',
    help: 'Requests sent to upstreams, by method, upstream and status class (error = transport failure).',
    labelNames: ['method', 'upstream', 'status_class'] as const,
    registers: [this.registry],
  });

  /** Upstream latency (seconds) to response headers. */
  readonly upstreamDuration = new Histogram({
    name: 'davgate_upstream_request_duration_seconds',
    help: 'Time from request sent to upstream response headers, by upstream.',
    labelNames: ['upstream'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** Requests in flight per upstream. */
  readonly upstreamInFlight = new Gauge({
    name: 'davgate_upstream_in_flight_requests',
    help: 'Requests currently in flight to an upstream.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  /** Requests waiting in an upstream's queue. */
  readonly upstreamQueueLength = new Gauge({
    name: 'davgate_upstream_queue_length',
    help: 'Requests waiting for a free slot of an upstream.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  /** Configured in-flight limit per upstream. */
  readonly upstreamMaxConcurrent = new Gauge({
    name: 'davgate_upstream_max_concurrent_requests',
    help: 'Configured maximum in-flight requests per upstream.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  /** Requests rejected by an upstream's queue (`full` or `timeout`). */
  readonly queueRejections = new Counter({
    name: 'davgate_upstream_queue_rejections_total',
    help: 'Requests refused with 503 because an upstream queue was full or the wait timed out.',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });

  /** 1 when the upstream is considered healthy, 0 when marked down. */
  readonly upstreamUp = new Gauge({
    name: 'davgate_upstream_up',
    help: '1 if the upstream is healthy, 0 if it is marked down.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  /**
   * Failures counted against an upstream's passive health, by reason: `connect` (refused, unreachable, connect
   * timeout), `timeout` (no answer in time), `transport` (a fresh connection broke), `status_5xx`,
   * `credentials` (401/407), `probe` (a probe answered something else than 207/200).
   */
  readonly healthFailures = new Counter({
    name: 'davgate_upstream_health_failures_total',
    help: 'Failures counted against an upstream\'s passive health, by reason: connect, timeout, transport, status_5xx, credentials, probe.',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });

  /** Health transitions: `to` is `down` or `up`. */
  readonly healthTransitions = new Counter({
    name: 'davgate_upstream_health_transitions_total',
    help: 'Times an upstream was marked down or came back up, by upstream and new state (down, up).',
    labelNames: ['upstream', 'to'] as const,
    registers: [this.registry],
  });

  /**
   * Requests whose reused keep-alive connection died before any byte of the answer (an idle connection a NAT
   * box forgot, or the server closed): `resent` at once on another connection, or `failed` (the body could not
   * be sent again). Never counted against health.
   */
  readonly staleConnections = new Counter({
    name: 'davgate_upstream_stale_connections_total',
    help: 'Requests whose reused connection died before any answer byte, by upstream and result: resent (at once, on another connection) or failed (body not replayable). Not health failures.',
    labelNames: ['upstream', 'result'] as const,
    registers: [this.registry],
  });

  /** Requests that went to another upstream than first chosen (`from` is the skipped one). */
  readonly failovers = new Counter({
    name: 'davgate_failovers_total',
    help: 'Requests served by another candidate or retried, by skipped upstream and reason.',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });

  /** Health probes by upstream and result. */
  readonly healthProbes = new Counter({
    name: 'davgate_health_probes_total',
    help: 'Active health probes, by upstream and result: ok, fail, or skipped (real traffic had just shown the upstream alive).',
    labelNames: ['upstream', 'result'] as const,
    registers: [this.registry],
  });

  /** Repairs owed by upstreams that were down while their keys changed (see placement/repairs.ts). */
  readonly pendingRepairs: Gauge;
  /** Read at scrape time for {@link pendingRepairs}; the gateway points it at its journal. */
  pendingRepairsSource: () => number = () => 0;

  /** Repairs replayed, by upstream and result. */
  readonly repairs = new Counter({
    name: 'davgate_repairs_total',
    help: 'Repairs replayed on upstreams that came back, by upstream and result (ok, fail).',
    labelNames: ['upstream', 'result'] as const,
    registers: [this.registry],
  });

  /** Active locks held by davgate; read at scrape time from the lock table. */
  readonly locksActive: Gauge;
  /** Read at scrape time for {@link locksActive}. */
  locksActiveSource: () => number = () => 0;

  /** LOCK requests refused for a conflicting lock, and writes refused for a missing lock token. */
  readonly lockConflicts = new Counter({
    name: 'davgate_lock_conflicts_total',
    help: 'Requests refused with 423: LOCK conflicting with a held lock (conflict) or a write without its lock token (token_missing).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Per-upstream budget and cooling state, read at scrape time from {@link budgetSource}. */
  budgetSource: () => { id: string; remaining: number | null; used: number | null; cooling: boolean }[] = () => [];
  readonly budgetRemaining: Gauge<'upstream'>;
  readonly budgetUsed: Gauge<'upstream'>;
  readonly cooling: Gauge<'upstream'>;

  /** Time requests spent waiting for budget (seconds). */
  readonly budgetWait = new Counter({
    name: 'davgate_upstream_budget_wait_seconds_total',
    help: 'Time requests waited for room in an upstream request budget.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  /** `503 BlockedTemporarily` answers seen. */
  readonly throttles = new Counter({
    name: 'davgate_upstream_throttles_total',
    help: 'Throttle answers (503 BlockedTemporarily) received from an upstream account.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  /**
   * PUT bodies without `Content-Length` stored to a temporary file first, because their upstream needs a
   * length (坚果云, jianguoyun.md statement 6; see `proxy/spool.ts`), by that upstream.
   */
  readonly putSpooled = new Counter({
    name: 'davgate_put_spooled_total',
    help: 'PUT bodies without Content-Length spooled to a temporary file so they could be sent with a length, by upstream.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  /** Bytes of those spooled bodies. */
  readonly putSpooledBytes = new Counter({
    name: 'davgate_put_spooled_bytes_total',
    help: 'Bytes of PUT bodies spooled to a temporary file before being sent with a length, by upstream.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  /** Clients that went away before their response finished. */
  readonly clientAborts = new Counter({
    name: 'davgate_client_aborts_total',
    help: 'Requests whose client disconnected before the response finished (logged as 499).',
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const source = () => this.pendingRepairsSource();
    const budgets = () => this.budgetSource();
    this.budgetRemaining = new Gauge({
      name: 'davgate_upstream_budget_remaining_requests',
      help: 'Requests left in the current budget window of an upstream (only upstreams with a budget).',
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      collect() {
        for (const b of budgets()) if (b.remaining !== null) this.set({ upstream: b.id }, b.remaining);
      },
    });
    this.budgetUsed = new Gauge({
      name: 'davgate_upstream_budget_used_requests',
      help: 'Requests sent within the current budget window of an upstream (only upstreams with a budget).',
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      collect() {
        for (const b of budgets()) if (b.used !== null) this.set({ upstream: b.id }, b.used);
      },
    });
    this.cooling = new Gauge({
      name: 'davgate_upstream_cooling',
      help: '1 while an upstream account rests after 503 BlockedTemporarily.',
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      collect() {
        for (const b of budgets()) this.set({ upstream: b.id }, b.cooling ? 1 : 0);
      },
    });
    const lockSource = () => this.locksActiveSource();
    this.locksActive = new Gauge({
      name: 'davgate_locks_active',
      help: 'WebDAV locks currently held by davgate.',
      registers: [this.registry],
      collect() {
        this.set(lockSource());
      },
    });
    this.pendingRepairs = new Gauge({
      name: 'davgate_pending_repairs',
      help: 'Writes and deletes that upstreams missed while down, waiting to be replayed.',
      registers: [this.registry],
      collect() {
        this.set(source());
      },
    });
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: 'davgate_' });
      // prom-client names three of its gauges `…_total`, a suffix Prometheus reserves for counters (`promtool
      // check metrics`: "non-counter metrics should not have _total suffix"). Each is the sum of the labelled
      // gauge of the same name without the suffix (`sum(davgate_nodejs_active_handles)`), so nothing is lost.
      for (const name of NON_COUNTER_TOTALS) this.registry.removeSingleMetric(`davgate_${name}`);
    }
  }
}
