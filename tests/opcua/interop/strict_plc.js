"use strict";
// A station PLC on node-opcua (another OPC UA stack than the MES's asyncua), held strictly to
// plc-interface.md. The interop tests drive it over stdin and read its events on stdout, one JSON
// object per line. Besides playing the PLC side of both handshakes, it inspects every Read and Write
// request the MES sends and records each departure from the contract as a "violation".
//
//   node strict_plc.js CONFIG.json
//
// CONFIG: {port, stations: [{id, type, values: [{name, kind}], traces: [...], live: [...], counters_at}],
//          retain_dir, pki_root, max_nodes_per_read, max_nodes_per_write, answer_timeout_s, ack_timeout_s, extra_namespaces,
//          security: null | {certificate, private_key, pki_root, users: {name: password}}}
// Commands: {cmd: "request", station, serial} · {cmd: "result", station, serial, values, traces}
//           {cmd: "log", station} · {cmd: "live", station, channel, value} · {cmd: "restart", station}
//           {cmd: "stop"}
// Events:   ready · answer · acked · not_acked · lost_in_restart · restarted · reoffered · log · violation · error

const fs = require("fs");
const path = require("path");
const readline = require("readline");
const crypto = require("crypto");
const {
  OPCUAServer,
  OPCUACertificateManager,
  DataType,
  Variant,
  VariantArrayType,
  StatusCodes,
  MessageSecurityMode,
  SecurityPolicy,
  AttributeIds,
} = require("node-opcua");

const NAMESPACE_URI = "urn:ashp-line:station";
const UINT32_MAX = 4294967295;
const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

const nextCounter = (counter) => (counter >= UINT32_MAX ? 1 : counter + 1);
const msSince = (started) => Number(process.hrtime.bigint() - started) / 1e6;

// Who writes each node and its exact built-in type (plc-interface.md's table).
const MES_WRITES = {
  "Response.Counter": DataType.UInt32,
  "Response.Release": DataType.Boolean,
  "Response.Reason": DataType.String,
  "Response.Recipe": DataType.String,
  "Result.Verdict": DataType.Int32,
  "Result.Ack": DataType.UInt32,
};
const KIND_TYPE = {
  number: DataType.Double,
  string: DataType.String,
  bool: DataType.Boolean,
  datetime: DataType.DateTime,
};
const ANSWER_FIELDS = ["Response.Release", "Response.Reason", "Response.Recipe"];

function utf8Length(text) {
  return Buffer.byteLength(text || "", "utf8");
}

class Station {
  constructor(namespace, objects, description) {
    this.id = description.id;
    this.description = description;
    this.bootId = crypto.randomBytes(8).toString("hex");
    this.variables = {};
    this.types = {};
    this.log = []; // every Read and Write the MES sent for this station, in order received
    this.violations = [];
    this.requestMark = null; // log length when the pending request was made
    this.resultMark = null; // log length when the pending result was offered
    this.retainFile = path.join(config.retain_dir, `${this.id}.json`);
    this.generation = 0; // a station restart ends every wait of the program before it

    const station = namespace.addObject({ organizedBy: objects, browseName: this.id });
    const folders = {};
    const folder = (name) => {
      if (!folders[name]) {
        const [first, ...rest] = name.split(".");
        const parent = rest.length ? folder(first) : station;
        folders[name] = namespace.addObject({ componentOf: parent, browseName: rest.length ? rest.join(".") : first });
      }
      return folders[name];
    };
    const add = (nodePath, dataType, { mes = false, array = false } = {}) => {
      const parts = nodePath.split(".");
      const parent = parts.length > 1 ? folder(parts.slice(0, -1).join(".")) : station;
      const initial = array
        ? new Variant({ dataType, arrayType: VariantArrayType.Array, value: new Float64Array(0) })
        : new Variant({ dataType, value: dataType === DataType.String ? "" : dataType === DataType.Boolean ? false : dataType === DataType.DateTime ? new Date(Date.UTC(1601, 0, 1)) : 0 });
      this.variables[nodePath] = namespace.addVariable({
        componentOf: parent,
        browseName: parts[parts.length - 1],
        nodeId: `s=${this.id}.${nodePath}`,
        dataType,
        valueRank: array ? 1 : -1,
        arrayDimensions: array ? [0] : null,
        accessLevel: mes ? "CurrentRead | CurrentWrite" : "CurrentRead",
        userAccessLevel: mes ? "CurrentRead | CurrentWrite" : "CurrentRead",
        minimumSamplingInterval: 0,
        value: initial,
      });
      this.types[nodePath] = dataType;
    };
    add("Identification.StationType", DataType.String);
    add("Identification.InterfaceVersion", DataType.UInt32);
    add("Identification.BootId", DataType.String);
    add("State", DataType.Int32);
    add("Request.Serial", DataType.String);
    add("Request.Counter", DataType.UInt32);
    for (const [nodePath, dataType] of Object.entries(MES_WRITES)) add(nodePath, dataType, { mes: true });
    add("Result.Id", DataType.String);
    add("Result.Serial", DataType.String);
    add("Result.Counter", DataType.UInt32);
    for (const value of description.values) add(`Result.Values.${value.name}`, KIND_TYPE[value.kind]);
    for (const channel of description.traces) {
      add(`Result.Traces.${channel}`, DataType.Double, { array: true });
      add(`Result.Traces.${channel}_t`, DataType.Double, { array: true });
    }
    for (const channel of [...description.traces, ...(description.live || [])]) add(`Live.${channel}`, DataType.Double);

    this.set("Identification.StationType", description.type);
    this.set("Identification.InterfaceVersion", 1);
    this.set("Identification.BootId", this.bootId);
    this.set("State", 2);
    if (description.counters_at !== undefined) {
      // a PLC that has run long with the MES: every request and result so far answered
      for (const nodePath of ["Request.Counter", "Response.Counter", "Result.Counter", "Result.Ack"])
        this.set(nodePath, description.counters_at);
    }
  }

  set(nodePath, value) {
    const dataType = this.types[nodePath];
    const variant = Array.isArray(value)
      ? new Variant({ dataType, arrayType: VariantArrayType.Array, value: Float64Array.from(value.map((v) => (v === null ? NaN : v))) })
      : new Variant({
          dataType,
          value: dataType === DataType.DateTime ? (value === null ? new Date(Date.UTC(1601, 0, 1)) : new Date(value)) : value === null ? NaN : value,
        });
    this.variables[nodePath].setValueFromSource(variant, StatusCodes.Good);
  }

  // Resolves when the node is written (by the MES), or after 50 ms at the latest.
  changed(nodePath) {
    return new Promise((resolve) => {
      const variable = this.variables[nodePath];
      const done = () => {
        clearTimeout(timer);
        variable.removeListener("value_changed", done);
        resolve();
      };
      const timer = setTimeout(done, 50);
      variable.once("value_changed", done);
    });
  }

  get(nodePath) {
    return this.variables[nodePath].readValue().value.value;
  }

  violate(message) {
    this.violations.push(message);
    emit({ event: "violation", station: this.id, message });
  }

  // --- what the MES sends -----------------------------------------------------------------

  onRead(paths) {
    this.log.push({ service: "Read", paths });
  }

  onWrite(writes) {
    const entry = { service: "Write", paths: writes.map((w) => w.path), writes };
    const index = this.log.length;
    this.log.push(entry);
    for (const w of writes) {
      const expected = MES_WRITES[w.path];
      if (expected === undefined) {
        this.violate(`the MES wrote ${w.path}, a node the PLC writes`);
        continue;
      }
      if (w.attributeId !== AttributeIds.Value) this.violate(`${w.path} written on attribute ${w.attributeId}, not Value`);
      if (w.dataType !== DataType[expected] || w.arrayType !== "Scalar")
        this.violate(`${w.path} written as ${w.arrayType} ${w.dataType}, the node is a scalar ${DataType[expected]}`);
      if (w.status !== 0) this.violate(`${w.path} written with a status code (${w.status})`);
      if (w.sourceTimestamp || w.serverTimestamp) this.violate(`${w.path} written with a timestamp`);
      if (w.indexRange) this.violate(`${w.path} written with an index range`);
    }
    const has = (p) => entry.paths.includes(p);
    if (has("Response.Counter")) this.checkResponseCounter(entry, index);
    if (has("Result.Ack")) this.checkAck(entry, index);
    if (has("Result.Verdict")) {
      const verdict = entry.writes.find((w) => w.path === "Result.Verdict").value;
      if (![1, 2, 3].includes(verdict)) this.violate(`Result.Verdict ${verdict} is not 1, 2 or 3`);
      if (!this.resultPending()) this.violate("Result.Verdict written while no result is pending");
    }
    for (const field of ANSWER_FIELDS) {
      if (has(field) && has("Response.Counter")) this.violate(`${field} written in the same request as Response.Counter`);
    }
    if (has("Result.Verdict") && has("Result.Ack")) this.violate("Result.Verdict written in the same request as Result.Ack");
  }

  requestPending() {
    const counter = this.get("Request.Counter");
    return counter !== 0 && counter !== this.get("Response.Counter");
  }

  resultPending() {
    const counter = this.get("Result.Counter");
    return counter !== 0 && counter !== this.get("Result.Ack");
  }

  // The log since the pending handshake began, before the entry at `index`.
  since(mark, index) {
    return mark === null ? [] : this.log.slice(mark, index);
  }

  checkResponseCounter(entry, index) {
    const value = entry.writes.find((w) => w.path === "Response.Counter").value;
    if (entry.paths.length !== 1) this.violate("Response.Counter is not alone in its Write request");
    if (!this.requestPending()) {
      this.violate(`Response.Counter ${value} written while no request is pending`);
      return;
    }
    const counter = this.get("Request.Counter");
    if (value !== counter) this.violate(`Response.Counter ${value} answers no pending request (Request.Counter ${counter})`);
    const before = this.since(this.requestMark, index);
    const readTogether = before.some(
      (e) => e.service === "Read" && ["Request.Counter", "Request.Serial", "Identification.BootId"].every((p) => e.paths.includes(p)),
    );
    if (!readTogether) this.violate("Request.Counter, Request.Serial and BootId were not read in one Read before the answer");
    const written = new Set(before.filter((e) => e.service === "Write").flatMap((e) => e.paths));
    if (!ANSWER_FIELDS.every((p) => written.has(p))) this.violate("Response.Counter written before Release, Reason and Recipe");
    const release = this.get("Response.Release");
    const reason = this.get("Response.Reason");
    const recipe = this.get("Response.Recipe");
    if (release && (reason !== "" || !/^[^/]+\/[^/]+$/.test(recipe)))
      this.violate(`a release must have an empty reason and a recipe <model>/<revision>: '${reason}', '${recipe}'`);
    if (!release && (reason === "" || recipe !== "")) this.violate(`a refusal must say why and carry no recipe: '${reason}', '${recipe}'`);
    if (utf8Length(reason) > 254) this.violate(`Response.Reason is ${utf8Length(reason)} bytes (at most 254)`);
    if (utf8Length(recipe) > 64) this.violate(`Response.Recipe is ${utf8Length(recipe)} bytes (at most 64)`);
  }

  checkAck(entry, index) {
    const value = entry.writes.find((w) => w.path === "Result.Ack").value;
    if (entry.paths.length !== 1) this.violate("Result.Ack is not alone in its Write request");
    if (!this.resultPending()) {
      this.violate(`Result.Ack ${value} written while no result is pending`);
      return;
    }
    const counter = this.get("Result.Counter");
    if (value !== counter) this.violate(`Result.Ack ${value} answers no pending result (Result.Counter ${counter})`);
    const before = this.since(this.resultMark, index);
    const setPaths = ["Result.Counter", "Result.Id", "Result.Serial", "Identification.BootId",
      ...this.description.values.map((v) => `Result.Values.${v.name}`),
      ...this.description.traces.flatMap((c) => [`Result.Traces.${c}`, `Result.Traces.${c}_t`])];
    // one Read; a set larger than the server's MaxNodesPerRead in consecutive Reads that together hold it
    if (setPaths.length <= (config.max_nodes_per_read || Infinity)) {
      if (!before.some((e) => e.service === "Read" && setPaths.every((p) => e.paths.includes(p))))
        this.violate("the result set, its counter and BootId were not read in one Read before the Ack");
    } else if (!readInChunks(before, setPaths)) {
      this.violate("the result set, its counter and BootId were not read in consecutive Reads before the Ack");
    }
    if (!before.some((e) => e.service === "Write" && e.paths.includes("Result.Verdict")))
      this.violate("Result.Ack written before Result.Verdict");
  }

  // --- the PLC's program --------------------------------------------------------------------

  async request(serial, timeoutS) {
    this.set("Response.Release", false);
    this.set("Response.Reason", "");
    this.set("Response.Recipe", "");
    this.set("Request.Serial", serial);
    const counter = nextCounter(this.get("Request.Counter"));
    this.requestMark = this.log.length;
    this.set("Request.Counter", counter);
    const started = process.hrtime.bigint();
    const deadline = Date.now() + timeoutS * 1000;
    while (Date.now() < deadline) {
      if (this.get("Response.Counter") === counter) {
        const release = this.get("Response.Release");
        if (release) this.set("State", 3);
        return { event: "answer", station: this.id, serial, counter, answered: true, release, reason: this.get("Response.Reason"), recipe: this.get("Response.Recipe"), elapsed_ms: msSince(started) };
      }
      await this.changed("Response.Counter");
    }
    return { event: "answer", station: this.id, serial, counter, answered: false };
  }

  offer(result, counter) {
    this.set("Result.Verdict", 0);
    this.set("Result.Id", result.id);
    this.set("Result.Serial", result.serial);
    for (const value of this.description.values) {
      const given = result.values[value.name];
      this.set(`Result.Values.${value.name}`, given === undefined ? null : given);
    }
    for (const channel of this.description.traces) {
      const [t, samples] = result.traces[channel] || [[], []];
      this.set(`Result.Traces.${channel}_t`, t);
      this.set(`Result.Traces.${channel}`, samples);
    }
    this.set("State", 3);
    // retentive memory: an unacknowledged result survives a restart
    fs.writeFileSync(this.retainFile, JSON.stringify(result));
    this.resultMark = this.log.length;
    this.set("Result.Counter", counter);
  }

  async awaitAck(result, counter, timeoutS) {
    const started = process.hrtime.bigint();
    const deadline = Date.now() + timeoutS * 1000;
    const generation = this.generation;
    while (Date.now() < deadline) {
      if (this.generation !== generation) {
        return { event: "lost_in_restart", station: this.id, serial: result.serial, result_id: result.id, counter };
      }
      if (this.get("Result.Ack") === counter) {
        const verdict = this.get("Result.Verdict");
        fs.rmSync(this.retainFile, { force: true });
        this.set("State", 2);
        return { event: "acked", station: this.id, serial: result.serial, result_id: result.id, counter, verdict, elapsed_ms: msSince(started) };
      }
      await this.changed("Result.Ack");
    }
    return { event: "not_acked", station: this.id, serial: result.serial, result_id: result.id, counter };
  }

  async result(serial, values, traces, timeoutS) {
    const counter = nextCounter(this.get("Result.Counter"));
    const result = { id: `${this.bootId}-${counter}`, serial, values, traces };
    this.offer(result, counter);
    return this.awaitAck(result, counter, timeoutS);
  }

  // The station's program restarts while the server stays up (a gateway restarting one station): a new
  // BootId, every counter back to 0, then the unacknowledged result offered again.
  async restart(timeoutS) {
    this.generation += 1;
    this.bootId = crypto.randomBytes(8).toString("hex");
    for (const nodePath of ["Request.Counter", "Response.Counter", "Result.Counter", "Result.Ack", "Result.Verdict"])
      this.set(nodePath, 0);
    this.set("Response.Release", false);
    this.set("Response.Reason", "");
    this.set("Response.Recipe", "");
    this.set("State", 2);
    this.requestMark = null;
    this.resultMark = null;
    this.set("Identification.BootId", this.bootId);
    emit({ event: "restarted", station: this.id, boot_id: this.bootId });
    await this.reofferRetained(timeoutS);
  }

  // After a (re)start: an unacknowledged result is offered again with its original Result.Id, at 1.
  async reofferRetained(timeoutS) {
    if (!fs.existsSync(this.retainFile)) return;
    const result = JSON.parse(fs.readFileSync(this.retainFile, "utf8"));
    this.offer(result, 1);
    emit({ event: "reoffered", station: this.id, result_id: result.id, serial: result.serial });
    emit(await this.awaitAck(result, 1, timeoutS));
  }
}

// Some run of consecutive Reads in `entries` (no Write between them) that together hold every path.
function readInChunks(entries, paths) {
  for (let start = 0; start < entries.length; start++) {
    const seen = new Set();
    for (let i = start; i < entries.length && entries[i].service === "Read"; i++) {
      entries[i].paths.forEach((p) => seen.add(p));
      if (paths.every((p) => seen.has(p))) return true;
    }
  }
  return false;
}

function stationPath(nodeId, namespaceIndex, stations) {
  if (nodeId.namespace !== namespaceIndex || typeof nodeId.value !== "string") return null;
  const dot = nodeId.value.indexOf(".");
  if (dot < 0) return null;
  const station = stations[nodeId.value.slice(0, dot)];
  return station ? [station, nodeId.value.slice(dot + 1)] : null;
}

function inspect(request, namespaceIndex, stations) {
  const name = request.schema.name;
  if (name === "ReadRequest") {
    const byStation = new Map();
    for (const r of request.nodesToRead || []) {
      const found = stationPath(r.nodeId, namespaceIndex, stations);
      if (found && r.attributeId === AttributeIds.Value) {
        if (!byStation.has(found[0])) byStation.set(found[0], []);
        byStation.get(found[0]).push(found[1]);
      }
    }
    for (const [station, paths] of byStation) station.onRead(paths);
  } else if (name === "WriteRequest") {
    const byStation = new Map();
    for (const w of request.nodesToWrite || []) {
      const found = stationPath(w.nodeId, namespaceIndex, stations);
      if (!found) continue;
      const variant = w.value.value;
      const raw = variant.value;
      const write = {
        path: found[1],
        attributeId: w.attributeId,
        indexRange: w.indexRange && !w.indexRange.isEmpty() ? w.indexRange.toString() : "",
        dataType: DataType[variant.dataType],
        arrayType: VariantArrayType[variant.arrayType],
        value: typeof raw === "bigint" ? Number(raw) : Array.isArray(raw) ? raw.length : raw,
        status: w.value.statusCode ? w.value.statusCode.value : 0,
        sourceTimestamp: w.value.sourceTimestamp ? w.value.sourceTimestamp.toISOString() : null,
        serverTimestamp: w.value.serverTimestamp ? w.value.serverTimestamp.toISOString() : null,
      };
      if (!byStation.has(found[0])) byStation.set(found[0], []);
      byStation.get(found[0]).push(write);
    }
    for (const [station, writes] of byStation) station.onWrite(writes);
  }
}

async function main() {
  const options = {
    port: config.port,
    hostname: "127.0.0.1",
    alternateHostname: ["localhost"],
    maxConnectionsPerEndpoint: 10,
    serverInfo: { applicationUri: "urn:ashp-line:node-opcua-plc", productUri: "urn:ashp-line:node-opcua-plc" },
    buildInfo: { productName: "strict node-opcua PLC" },
    serverCapabilities: {
      operationLimits: { maxNodesPerRead: config.max_nodes_per_read || 0, maxNodesPerWrite: config.max_nodes_per_write || 0 },
    },
  };
  // PKI stores of the test's own (never node-opcua's default under the user's home)
  const pkiRoot = config.security ? config.security.pki_root : config.pki_root;
  const manager = new OPCUACertificateManager({ rootFolder: pkiRoot, automaticallyAcceptUnknownCertificate: false });
  const users = new OPCUACertificateManager({ rootFolder: path.join(pkiRoot, "user"), automaticallyAcceptUnknownCertificate: false });
  await manager.initialize();
  await users.initialize();
  options.serverCertificateManager = manager;
  options.userCertificateManager = users;
  if (config.security) {
    Object.assign(options, {
      certificateFile: config.security.certificate,
      privateKeyFile: config.security.private_key,
      securityModes: [MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [SecurityPolicy.Basic256Sha256],
      allowAnonymous: false,
      userManager: { isValidUser: (user, password) => config.security.users[user] === password },
    });
  } else {
    options.securityModes = [MessageSecurityMode.None];
    options.securityPolicies = [SecurityPolicy.None];
  }
  const server = new OPCUAServer(options);
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  // other namespaces first, so the station namespace's index is not the one a client might assume
  for (const uri of config.extra_namespaces || []) addressSpace.registerNamespace(uri);
  const namespace = addressSpace.registerNamespace(NAMESPACE_URI);
  const stations = {};
  for (const description of config.stations) {
    stations[description.id] = new Station(namespace, addressSpace.rootFolder.objects, description);
  }
  server.on("request", (request) => {
    try {
      inspect(request, namespace.index, stations);
    } catch (err) {
      emit({ event: "error", message: `inspecting ${request.schema.name}: ${err.stack}` });
    }
  });
  await server.start();
  emit({ event: "ready", endpoint: server.getEndpointUrl(), namespace_index: namespace.index,
         boot_ids: Object.fromEntries(Object.values(stations).map((s) => [s.id, s.bootId])) });
  const ackTimeout = config.ack_timeout_s || 30;
  for (const station of Object.values(stations)) station.reofferRetained(ackTimeout);

  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const command = JSON.parse(line);
    const station = stations[command.station];
    try {
      if (command.cmd === "stop") break;
      if (command.cmd === "request") {
        station.request(command.serial, config.answer_timeout_s || 10).then(emit);
      } else if (command.cmd === "result") {
        station.result(command.serial, command.values || {}, command.traces || {}, ackTimeout).then(emit);
      } else if (command.cmd === "restart") {
        station.restart(ackTimeout);
      } else if (command.cmd === "live") {
        station.set(`Live.${command.channel}`, command.value);
      } else if (command.cmd === "log") {
        emit({ event: "log", station: station.id, log: station.log, violations: station.violations });
      } else {
        emit({ event: "error", message: `unknown command ${line}` });
      }
    } catch (err) {
      emit({ event: "error", message: `${line}: ${err.stack}` });
    }
  }
  await server.shutdown(0);
  process.exit(0);
}

main().catch((err) => {
  emit({ event: "error", message: err.stack });
  process.exit(1);
});
