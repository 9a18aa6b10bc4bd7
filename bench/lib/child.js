/**
 * The benchmark's child processes, so that the load generator, the gateway and simulated accounts never share
 * an event loop. Started with `fork(child.js, [role, distDir])`; they talk to the parent over IPC and exit
 * when it disconnects (no orphans).
 *
 * - `gateway`: davgate itself (`startServer` from dist/server.js) with the config the parent sends. Answers
 *   `{ cmd: 'usage' }` with its `process.cpuUsage()` (µs) and memory, so the parent can divide CPU by work done.
 * - `sims`: N simulated accounts (`startJianguoyunSim` from dist/sim/jianguoyun.js, in memory) with an
 *   in-flight cap and latency, each optionally behind a bandwidth-limited relay (`throttle.js`).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startThrottle } from './throttle.js';

const [role, distDir] = process.argv.slice(2);
const dist = (rel) => pathToFileURL(path.join(distDir, rel)).href;

process.on('disconnect', () => process.exit(0));

/** Waits for the parent's first message (sent after our `want` request, so it is never lost). */
function firstMessage() {
  const p = new Promise((resolve) => process.once('message', resolve));
  process.send({ want: 'options' });
  return p;
}

async function gateway() {
  const [{ startServer }, { loadConfig }, object] = await Promise.all([
    import(dist('server.js')),
    import(dist('config/load.js')),
    firstMessage(),
  ]);
  // Validated like a config file, with the defaults users get.
  const server = await startServer(loadConfig({ object, env: {} }));
  process.on('message', async (msg) => {
    if (msg.cmd === 'usage') {
      process.send({ usage: process.cpuUsage(), rss: process.memoryUsage().rss });
    } else if (msg.cmd === 'stop') {
      await server.close();
      process.exit(0);
    }
  });
  process.send({ ready: true, url: server.url });
}

async function sims() {
  const [{ startJianguoyunSim }, opts] = await Promise.all([import(dist('sim/jianguoyun.js')), firstMessage()]);
  const accounts = [];
  for (let i = 0; i < opts.count; i++) {
    const sim = await startJianguoyunSim({
      username: 'bench',
      password: opts.password,
      budget: 1_000_000_000, // the request budget is not what these scenarios measure
      maxInFlight: opts.maxInFlight,
      latencyMs: opts.latencyMs,
      maxFileBytes: 64 * 1024 * 1024,
      sandboxes: ['bench'],
    });
    let url = `${sim.url}bench/`;
    let relay;
    if (opts.bytesPerSec) {
      relay = await startThrottle({ targetPort: Number(new URL(sim.url).port), bytesPerSec: opts.bytesPerSec });
      url = `http://127.0.0.1:${relay.port}/dav/bench/`;
    }
    accounts.push({ sim, relay, info: { id: `s${i}`, url, directUrl: `${sim.url}bench/` } });
  }
  process.on('message', async (msg) => {
    if (msg.cmd === 'counters') {
      process.send({ counters: accounts.map((a) => a.sim.snapshot()) });
    } else if (msg.cmd === 'stop') {
      for (const a of accounts) {
        await a.relay?.close();
        await a.sim.stop();
      }
      process.exit(0);
    }
  });
  process.send({ ready: true, accounts: accounts.map((a) => a.info) });
}

try {
  if (role === 'gateway') await gateway();
  else if (role === 'sims') await sims();
  else throw new Error(`unknown child role ${role}`);
} catch (err) {
  process.send({ ready: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
}
