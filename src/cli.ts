/**
 * The `davgate` command line (run through `bin/davgate.js`): `serve`, `check-config`, `demo`, `hash-password`.
 *
 * Exit codes: 0 success, 1 runtime failure (e.g. the port is taken), 2 usage or configuration error.
 * Nothing here reads the environment or config files directly; `loadConfig` does (including `DAVGATE_CONFIG`).
 * Help texts name environment variables but never show their values.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, redactedConfig } from './config/load.js';
import type { Config } from './config/schema.js';

/** bcrypt cost for `hash-password`: about 200-300 ms per check on a 2020s CPU (OWASP recommends >= 10). */
export const HASH_COST = 12;

/** Exit codes. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/** Where the CLI reads and writes; tests substitute their own. */
export interface CliIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
}

const defaultIO: CliIO = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };

function packageVersion(): string {
  // Same relative path from src/cli.ts and dist/cli.js.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function printProblems(err: ConfigError, io: CliIO): void {
  for (const p of err.problems) io.stderr.write(`config error: ${p.key}: ${p.message}\n`);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * One-line summary printed by `check-config`, e.g.
 * `config OK: 3 upstreams (2 enabled), strategy hash, auth basic (1 user)`.
 */
export function summarize(c: Config): string {
  const enabled = c.upstreams.filter((u) => u.enabled).length;
  const auth = c.auth.mode === 'basic' ? `basic (${plural(c.auth.users.length, 'user')})` : 'none';
  return `config OK: ${plural(c.upstreams.length, 'upstream')} (${enabled} enabled), strategy ${c.strategy}, auth ${auth}`;
}

/**
 * `check-config`: loads and validates the config without starting anything.
 * @returns {@link EXIT}.OK, printing the summary (and with `print`, the redacted config as YAML), or
 *   {@link EXIT}.USAGE after printing each problem as `config error: <key>: <message>` to stderr.
 */
export function checkConfigCommand(opts: { config?: string; print?: boolean }, io: CliIO = defaultIO, env?: NodeJS.ProcessEnv): number {
  let config: Config;
  try {
    config = loadConfig({ file: opts.config, env });
  } catch (err) {
    if (err instanceof ConfigError) {
      printProblems(err, io);
      return EXIT.USAGE;
    }
    throw err;
  }
  if (opts.print) io.stdout.write(stringify(redactedConfig(config)));
  io.stdout.write(`${summarize(config)}\n`);
  return EXIT.OK;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from a TTY without echoing it. Ctrl-C aborts (rejects), Backspace edits. */
function promptHidden(question: string, io: CliIO): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const { stdin } = io;
    io.stderr.write(question);
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err?: Error): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      if (err) reject(err);
      else resolvePromise(value);
    };
    const onData = (data: string): void => {
      for (const ch of data) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new Error('aborted'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * `hash-password`: reads a password and prints its bcrypt hash (cost {@link HASH_COST}) for
 * `auth.users[].passwordHash`. From stdin when `passwordStdin` is set or stdin is not a terminal (one trailing
 * newline removed); otherwise prompts twice without echo (prompts go to stderr, so stdout is just the hash).
 * @returns {@link EXIT}.OK, or {@link EXIT}.USAGE for an empty, mismatched or over-long password.
 */
export async function hashPasswordCommand(opts: { passwordStdin?: boolean; cost?: number }, io: CliIO = defaultIO): Promise<number> {
  let password: string;
  if (opts.passwordStdin || !io.stdin.isTTY) {
    password = (await readAll(io.stdin)).replace(/\r?\n$/, '');
  } else {
    password = await promptHidden('Password: ', io);
    const again = await promptHidden('Repeat password: ', io);
    if (again !== password) {
      io.stderr.write('error: the passwords differ\n');
      return EXIT.USAGE;
    }
  }
  if (password === '') {
    io.stderr.write('error: empty password\n');
    return EXIT.USAGE;
  }
  if (bcrypt.truncates(password)) {
    // bcrypt only looks at the first 72 bytes; anything after them would be silently ignored.
    io.stderr.write('error: password is longer than 72 bytes (UTF-8), which bcrypt would silently truncate\n');
    return EXIT.USAGE;
  }
  io.stdout.write(`${await bcrypt.hash(password, opts.cost ?? HASH_COST)}\n`);
  return EXIT.OK;
}

function parsePort(v: string): number {
  if (!/^[0-9]{1,5}$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('must be a port number from 0 to 65535');
  return Number(v);
}

/**
 * Builds the commander program. Actions record their exit code in `result.code`; `undefined` means the command
 * keeps running (serve, demo) and the process should not exit.
 */
function buildProgram(io: CliIO, result: { code: number | undefined }): Command {
  const program = new Command('davgate');
  program
    .description('A WebDAV gateway that shards one namespace over several upstream WebDAV accounts.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const configHelp = 'YAML config file (default: $DAVGATE_CONFIG; without either, the environment alone)';

  program
    .command('serve')
    .description('start the gateway (environment variables override the file; see config/davgate.example.yaml)')
    .option('-c, --config <file>', configHelp)
    .action(async (opts: { config?: string }) => {
      let config: Config;
      try {
        config = loadConfig({ file: opts.config });
      } catch (err) {
        if (err instanceof ConfigError) {
          printProblems(err, io);
          result.code = EXIT.USAGE;
          return;
        }
        throw err;
      }
      // Imported lazily so that check-config and hash-password do not load the server's dependencies.
      const { startServer } = await import('./server.js');
      try {
        await startServer(config, { handleSignals: true });
      } catch (err) {
        // The start-up checks (base folders, credentials, spool directory) report like config mistakes: each
        // names its key, and the exit status is the same.
        if (err instanceof ConfigError) {
          printProblems(err, io);
          result.code = EXIT.USAGE;
          return;
        }
        throw err;
      }
      result.code = undefined;
    });

  program
    .command('check-config')
    .description('validate the configuration without starting; exit 0 if usable, 2 with every problem if not')
    .option('-c, --config <file>', configHelp)
    .option('--print', 'print the effective configuration as YAML, secrets replaced by ***')
    .action((opts: { config?: string; print?: boolean }) => {
      result.code = checkConfigCommand(opts, io);
    });

  program
    .command('demo')
    .description('run three local WebDAV upstreams plus the gateway, to try davgate without accounts')
    .option('--data <dir>', 'folder for the upstreams\' files (default: a temporary folder)')
    .option('--port <port>', 'gateway port', parsePort, 8080)
    .option('--host <host>', 'gateway host', '127.0.0.1')
    .option(
      '--profile <profile>',
      'upstream accounts: generic (webdav-server) or jianguoyun (simulated 坚果云 accounts, profile: jianguoyun)',
      'generic',
    )
    .action(async (opts: { data?: string; port: number; host: string; profile: string }) => {
      const { runDemo, parseDemoProfile, DEMO_PROFILES } = await import('./demo/demo.js');
      const profile = parseDemoProfile(opts.profile);
      if (profile === undefined) {
        // Checked before anything starts, so a typo costs nothing; exit 2 like commander's own usage errors.
        io.stderr.write(`error: option '--profile <profile>': must be ${DEMO_PROFILES.join(' or ')}, got ${JSON.stringify(opts.profile)}\n`);
        result.code = EXIT.USAGE;
        return;
      }
      await runDemo({ dataDir: opts.data, port: opts.port, host: opts.host, profile });
      result.code = undefined;
    });

  program
    .command('sim')
    .description('run a simulated 坚果云 (Jianguoyun) WebDAV account on loopback, for experiments and tests')
    .argument('<vendor>', 'the vendor to simulate: jianguoyun')
    .option('--data <dir>', "folder for the account's files (default: in memory)")
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'port (default: any free one)')
    .option('--plan <plan>', 'free (600 requests per window) or paid (1500)')
    .option('--budget <n>', 'requests per window')
    .option('--window <seconds>', 'window length (default 1800)')
    .option('--max-in-flight <n>', 'concurrent requests before 503')
    .option('--latency <ms>', 'added latency: <ms> or <min>-<max>')
    .option('--max-file-bytes <n>', 'single-file cap')
    .option('--page-size <n>', 'PROPFIND page size (default 750)')
    .option('--username <email>', 'Basic user')
    .option('--password <password>', 'app password (default: random, printed)')
    .action(async (vendor: string, opts: Record<string, string | undefined>) => {
      const { simCliAction } = await import('./sim/jianguoyun.js');
      result.code = await simCliAction(vendor, opts, io);
    });

  program
    .command('hash-password')
    .description('print a bcrypt hash for auth.users[].passwordHash (prompts without echo on a terminal)')
    .option('--password-stdin', 'read the password from standard input (one trailing newline removed)')
    .action(async (opts: { passwordStdin?: boolean }) => {
      result.code = await hashPasswordCommand(opts, io);
    });

  return program;
}

/**
 * Runs the CLI on `argv` (user arguments only, without `node` and the script).
 * @returns the exit code, or undefined when a long-running command (serve, demo) has started and the process
 *   must stay alive. Usage errors (unknown command or option, missing command) give {@link EXIT}.USAGE;
 *   unexpected errors are printed as `error: <message>` and give {@link EXIT}.FAILURE.
 */
export async function main(argv: readonly string[], io: CliIO = defaultIO): Promise<number | undefined> {
  const result: { code: number | undefined } = { code: EXIT.OK };
  const program = buildProgram(io, result);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other commander error is a usage error.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.FAILURE;
  }
}

/** True when this module is the program being run (directly, or through bin/davgate.js), not imported by a test. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    const here = fileURLToPath(import.meta.url);
    const entry = realpathSync(script);
    return entry === here || entry === resolve(dirname(here), '../bin/davgate.js');
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2));
  if (code !== undefined) process.exitCode = code;
}
