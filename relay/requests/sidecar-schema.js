'use strict';

/**
 * The sidecar's protocol as its JSON Schema files declare it (sidecar/protocol/): the relay reads its
 * option limits and its error-kind → HTTP status mapping from them instead of keeping copies.
 */

const fs = require('node:fs');
const path = require('node:path');

const PROTOCOL_DIR = path.join(__dirname, '..', '..', 'sidecar', 'protocol');

const cache = new Map();

/** A schema file, parsed, by its path inside sidecar/protocol/ (e.g. 'methods/transcribe.json'). */
function readSchema(relative) {
  if (!cache.has(relative)) {
    cache.set(relative, JSON.parse(fs.readFileSync(path.join(PROTOCOL_DIR, relative), 'utf8')));
  }
  return cache.get(relative);
}

/** Follows a local or relative `$ref` (e.g. '../common.json#/$defs/model'); its siblings win. */
function resolve(schema, file) {
  if (!schema || typeof schema.$ref !== 'string') return schema;
  const [target, pointer = ''] = schema.$ref.split('#');
  const targetFile = target ? path.posix.join(path.posix.dirname(file), target) : file;
  let node = readSchema(targetFile);
  for (const key of pointer.split('/').filter(Boolean)) node = node[key];
  const { $ref, ...siblings } = schema;
  return { ...resolve(node, targetFile), ...siblings };
}

/** One param of a method, its $ref resolved: e.g. param('transcribe', 'model').maxLength. */
function param(method, name) {
  const file = `methods/${method}.json`;
  const schema = readSchema(file).$defs.params.properties[name];
  if (!schema) throw new Error(`sidecar/protocol/${file} declares no param ${JSON.stringify(name)}`);
  return resolve(schema, file);
}

/** The values an enum param takes, null (= not given) left out. */
function enumOf(method, name) {
  return param(method, name).enum.filter((value) => value !== null);
}

/** errors.json: {codes, kinds: {kind: {code, client, http_status, meaning}}}. */
function errorKinds() {
  return readSchema('errors.json').kinds;
}

module.exports = { PROTOCOL_DIR, readSchema, param, enumOf, errorKinds };
