// Shared helpers of the BullMQ peer scripts. Configuration comes from the
// environment (bench/run.sh sets it); nothing here talks to anything but
// loopback Redis and genq-mockllm.
'use strict';
const fs = require('fs');

function env(name, def) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (def === undefined) throw new Error(`missing environment ${name}`);
    return def;
  }
  return v;
}

function connection() {
  return {
    host: '127.0.0.1',
    port: Number(env('REDIS_PORT')),
    maxRetriesPerRequest: null,
  };
}

// Whole-process CPU (all threads) in microseconds.
function cpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function writeJson(file, obj) {
  fs.writeFileSync(file + '.tmp', JSON.stringify(obj) + '\n');
  fs.renameSync(file + '.tmp', file);
}

module.exports = { env, connection, cpuUs, writeJson };
