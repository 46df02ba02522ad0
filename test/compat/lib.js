// Shared helpers of the compatibility scripts. Modules resolve through NODE_PATH
// (hack/npm/node_modules), which the Go driver sets.
"use strict";

const readline = require("node:readline");

// emit writes one JSON line on stdout for the Go driver.
function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// step logs progress on stderr (the Go driver shows it when a test fails).
function step(msg) {
  process.stderr.write(`[${new Date().toISOString()}] ${msg}\n`);
}

function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`environment variable ${name} is required`);
  }
  return v;
}

function assert(cond, msg) {
  if (!cond) {
    throw new Error(`assertion failed: ${msg}`);
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// waitFor polls cond every 20 ms until it holds or timeoutMs passes.
async function waitFor(what, cond, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(20);
  }
}

// stdinLines returns an async function that resolves with the next line of stdin.
function stdinLines() {
  const rl = readline.createInterface({ input: process.stdin });
  const queue = [];
  const waiters = [];
  rl.on("line", (l) => {
    if (waiters.length) {
      waiters.shift()(l);
    } else {
      queue.push(l);
    }
  });
  return () =>
    new Promise((resolve) => {
      if (queue.length) {
        resolve(queue.shift());
      } else {
        waiters.push(resolve);
      }
    });
}

// run executes main, reporting {"result":"ok"} or the error, and exits.
function run(main) {
  main().then(
    () => {
      emit({ result: "ok" });
      process.exit(0);
    },
    (err) => {
      emit({ result: "error", error: String((err && err.stack) || err) });
      process.exit(1);
    },
  );
}

module.exports = { emit, step, env, assert, sleep, waitFor, stdinLines, run };
