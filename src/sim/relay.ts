/**
 * A fault-injecting TCP relay for loopback tests and benchmarks: it sits in front of one upstream and behaves
 * like the NAT boxes and load balancers on the way to a hosted account (issue 8, "Healthy upstreams are marked
 * down when idle connections die").
 *
 * - `idleDropMs`: a connection idle (no byte either way) for this long, while no request awaits its answer (the
 *   upstream spoke last, or nobody has yet), is forgotten **silently**: the relay
 *   closes its side towards the upstream but sends the client nothing (no FIN), as a NAT entry that expired.
 *   The client's next bytes on that connection are answered with a TCP reset, as the NAT box does for a flow it
 *   no longer knows. The client sees `ECONNRESET` (undici: `UND_ERR_SOCKET` "other side closed") on a request
 *   that never reached the upstream.
 *
 * Plain `node:net`; no HTTP parsing. Loopback only: it listens on `host` (default 127.0.0.1) and connects to
 * the target given.
 */
import net from 'node:net';

/** Options of {@link startRelay}. */
export interface RelayOptions {
  /** Upstream host (loopback). */
  readonly targetHost: string;
  /** Upstream port. */
  readonly targetPort: number;
  /** Listen host; default `127.0.0.1`. */
  readonly host?: string;
  /** Listen port; default 0 (any free port). */
  readonly port?: number;
  /** Forget a connection after this many ms without a byte either way and no request awaiting its answer (ms); 0 or unset: never. */
  readonly idleDropMs?: number;
}

/** Counters of a running relay. */
export interface RelayStats {
  /** Client connections accepted. */
  accepted: number;
  /** Connections forgotten after `idleDropMs`. */
  forgotten: number;
  /** Forgotten connections that sent bytes again and were answered with a reset. */
  resets: number;
}

/** A running relay. */
export interface Relay {
  /** The port it listens on. */
  readonly port: number;
  readonly host: string;
  readonly stats: RelayStats;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/**
 * Starts a relay in front of `targetHost:targetPort`.
 *
 * @returns once listening
 * @throws the listen error (e.g. EADDRINUSE)
 */
export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const host = opts.host ?? '127.0.0.1';
  const idleDropMs = opts.idleDropMs ?? 0;
  const stats: RelayStats = { accepted: 0, forgotten: 0, resets: 0 };
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    stats.accepted++;
    sockets.add(client);
    const upstream = net.connect({ host: opts.targetHost, port: opts.targetPort });
    sockets.add(upstream);
    let forgotten = false;
    /**
     * True while the client has spoken last: a request awaits its answer. Such a connection is not forgotten,
     * however long the upstream takes (a CPU-starved test upstream may need more than `idleDropMs`): real NAT
     * timeouts are minutes long, so what they drop in practice is an idle keep-alive connection between
     * requests, and a 1.5 s timer must not turn a slow answer into a hang.
     */
    let awaitingAnswer = false;
    let timer: NodeJS.Timeout | undefined;
    const touch = () => {
      if (idleDropMs <= 0) return;
      if (timer) timer.refresh();
      else timer = setTimeout(forget, idleDropMs);
    };
    const forget = () => {
      if (awaitingAnswer) {
        timer?.refresh();
        return;
      }
      forgotten = true;
      stats.forgotten++;
      // The NAT entry expires: the upstream side is torn down, the client is told nothing.
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (forgotten) {
        stats.resets++;
        client.resetAndDestroy();
        return;
      }
      awaitingAnswer = true;
      touch();
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('data', (chunk: Buffer) => {
      awaitingAnswer = false;
      touch();
      if (!client.write(chunk)) upstream.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    upstream.on('connect', touch);
    client.on('end', () => {
      if (!forgotten) upstream.end();
    });
    upstream.on('end', () => {
      if (!forgotten) client.end();
    });
    const cleanup = () => {
      if (timer) clearTimeout(timer);
    };
    client.on('close', () => {
      cleanup();
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      if (!forgotten) client.destroy();
    });
    client.on('error', () => {});
    upstream.on('error', () => {
      if (!forgotten) client.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    host,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
