'use strict';

/**
 * Receives one multipart upload into a file in the uploads folder, with the text fields beside it.
 * Fields named `x[]` (as OpenAI's `timestamp_granularities[]`) are collected into arrays.
 */

const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { pipeline } = require('node:stream/promises');
const { HttpError } = require('../errors');

const MB = 1024 * 1024;

/**
 * Args: request — a fastify request; options — {dir, maxBytes}.
 * Returns: {file, name, bytes, fields}.
 * Raises: HttpError 415 (not multipart), 400 (no file, empty file, two files), 413 (too large).
 */
async function receiveUpload(request, { dir, maxBytes }) {
  if (!request.isMultipart()) {
    throw new HttpError(415, 'unsupported_media_type', 'Send the file as multipart/form-data.');
  }
  await fs.promises.mkdir(dir, { recursive: true });
  const fields = Object.create(null); // a field named __proto__ or valueOf is a field like any other
  let upload = null;
  try {
    for await (const part of request.parts({ limits: { fileSize: maxBytes } })) {
      if (part.type !== 'file') {
        addField(fields, part.fieldname, part.value);
        continue;
      }
      if (upload) {
        part.file.resume();
        throw new HttpError(400, 'too_many_files', 'Send one file per request.');
      }
      const file = path.join(dir, `${randomUUID()}${safeExtension(part.filename)}`);
      upload = { file, name: part.filename || 'upload', field: part.fieldname, bytes: 0 };
      await pipeline(part.file, fs.createWriteStream(file));
      if (part.file.truncated) throw tooLarge(maxBytes);
      upload.bytes = (await fs.promises.stat(file)).size;
    }
  } catch (err) {
    if (upload) fs.rmSync(upload.file, { force: true });
    if (err instanceof HttpError) throw err;
    if (err && err.code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(maxBytes);
    if (err && typeof err.statusCode === 'number' && err.statusCode < 500) {
      throw new HttpError(err.statusCode, 'invalid_multipart', err.message);
    }
    throw err;
  }
  if (!upload) throw new HttpError(400, 'missing_file', 'The form has no file; send it in the field "file".');
  if (upload.bytes === 0) {
    fs.rmSync(upload.file, { force: true });
    throw new HttpError(400, 'empty_upload', `The uploaded file ${JSON.stringify(upload.name)} is empty.`);
  }
  return { ...upload, fields };
}

function addField(fields, name, value) {
  if (name.endsWith('[]')) {
    const key = name.slice(0, -2);
    fields[key] = [...(fields[key] || []), value];
  } else {
    fields[name] = value;
  }
}

/** Keeps a short alphanumeric extension (PyAV probes the content; the extension is a hint). */
function safeExtension(filename) {
  const ext = path.extname(filename || '').toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : '';
}

function tooLarge(maxBytes) {
  return new HttpError(413, 'upload_too_large', `The upload is larger than MAX_UPLOAD_MB (${Math.round(maxBytes / MB)} MB).`);
}

module.exports = { receiveUpload, safeExtension };
