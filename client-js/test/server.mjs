// Starts real Tidings servers for the client tests.
//
// The command comes from TIDINGS_SERVER_CMD (a JSON array, e.g. ["java","-cp","...","io.tidings.server.Main"];
// the JUnit wrapper ClientJsTest sets it) and defaults to the packaged jar of this checkout
// (`./mvnw -o -q package -DskipTests` builds server/target/tidings.jar). The harness appends
// `serve --port P [--store memory | --data DIR] [--config FILE]` and waits for "listening on".
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function serverCommand() {
  const env = process.env.TIDINGS_SERVER_CMD;
  if (env && env.trim()) {
    const cmd = JSON.parse(env);
    if (!Array.isArray(cmd) || cmd.length === 0) throw new Error('TIDINGS_SERVER_CMD must be a JSON array of strings');
    return cmd;
  }
  const jar = join(repoRoot, 'server', 'target', 'tidings.jar');
  if (!existsSync(jar)) {
    throw new Error(`${jar} is missing: build it with ./mvnw -o -q package -DskipTests, or set TIDINGS_SERVER_CMD`);
  }
  return ['java', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-jar', jar];
}

const running = new Set();
process.on('exit', () => {
  for (const s of running) s._child?.kill('SIGKILL');
});

/**
 * A server process. `store`: 'memory' or 'sqlite' (a fresh temporary data directory unless `data`
 * is given). `config`: an object written as the YAML file (JSON is YAML) or a YAML string.
 */
export class TestServer {
  constructor({ store = 'memory', data, config } = {}) {
    this.store = store;
    this.data = store === 'sqlite' ? (data ?? mkdtempSync(join(tmpdir(), 'tidings-js-'))) : null;
    this.ownsData = store === 'sqlite' && !data;
    this.config = config;
    this.port = 0;
    this.output = [];
    this._child = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the process (on the port of the previous run, if any); resolves once it listens. */
  async start({ config } = {}) {
    if (config !== undefined) this.config = config;
    const cmd = serverCommand();
    const args = [...cmd.slice(1), 'serve', '--port', String(this.port)];
    if (this.store === 'memory') args.push('--store', 'memory');
    else args.push('--data', this.data);
    if (this.config !== undefined && this.config !== null) {
      const dir = mkdtempSync(join(tmpdir(), 'tidings-js-config-'));
      const file = join(dir, 'tidings.yaml');
      writeFileSync(file, typeof this.config === 'string' ? this.config : JSON.stringify(this.config));
      args.push('--config', file);
    }
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('TIDINGS_')) delete env[k];
    const child = spawn(cmd[0], args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this._child = child;
    running.add(this);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this._exited = exited;
    await new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => finish(new Error(`the server did not start within 90 s:\n${this.log()}`)), 90000);
      const finish = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          child.kill('SIGKILL');
          reject(err);
        } else {
          resolve();
        }
      };
      const onData = (chunk) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line) continue;
          this.output.push(line);
          if (this.output.length > 2000) this.output.shift();
          const m = /listening on https?:\/\/[^:\s]+:(\d+)/.exec(line);
          if (m) {
            this.port = Number(m[1]);
            finish();
          }
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', (e) => finish(new Error(`cannot run ${cmd[0]}: ${e.message}`)));
      exited.then(({ code, signal }) => finish(new Error(`the server exited (${code ?? signal}) before listening:\n${this.log()}`)));
    });
    return this;
  }

  log() {
    return this.output.slice(-60).join('\n');
  }

  async _signal(signal, graceMs) {
    const child = this._child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    let timer;
    const timeout = new Promise((r) => { timer = setTimeout(() => r('timeout'), graceMs); });
    const outcome = await Promise.race([this._exited, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      child.kill('SIGKILL');
      await this._exited;
    }
    running.delete(this);
  }

  /** SIGTERM: a graceful shutdown (WebSockets get 1012, SSE streams a retry). */
  stop() {
    return this._signal('SIGTERM', 40000);
  }

  /** kill -9. */
  kill() {
    return this._signal('SIGKILL', 10000);
  }

  /** Stops (or kills) and starts again on the same port and data directory. */
  async restart({ kill = false, config } = {}) {
    await (kill ? this.kill() : this.stop());
    return this.start({ config });
  }

  /** Stops and removes a temporary data directory. */
  async close() {
    await this.stop();
    if (this.ownsData) rmSync(this.data, { recursive: true, force: true });
  }
}

export async function startServer(options) {
  return new TestServer(options).start();
}
