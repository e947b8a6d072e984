// node --test static/js/ (run by .ci/run). Not served: the hub embeds only the page's files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { UNCARRIED, applyChange, clusterOwners, emptyHub, fleetOrder, mixerOrder, problems, receive } from "./state.js";

const fixture = JSON.parse(
  readFileSync(new URL("../../tests/fixtures/dashboard/status-rules.json", import.meta.url), "utf8"),
);

function withoutUncarried(status) {
  const copy = structuredClone(status);
  for (const path of UNCARRIED) {
    const keys = path.split(".");
    let holder = copy;
    for (const key of keys.slice(0, -1)) holder = holder[key];
    delete holder[keys[keys.length - 1]];
  }
  return copy;
}

function snapshotMessage(status, seq = 0) {
  return { type: "snapshot", seq, running: true, since: "2026-11-30T10:00:00Z", instances: { [status.name]: status } };
}

const changes = fixture.steps.flatMap((step) => step.changes);
const last = fixture.steps[fixture.steps.length - 1].status;

test("after every step the page holds the status the hub holds", () => {
  let hub = receive(emptyHub(), snapshotMessage(fixture.snapshot)).hub;
  for (const step of fixture.steps) {
    for (const change of step.changes) {
      const taken = receive(hub, change);
      assert.equal(taken.resync, undefined, `change ${change.seq} applied in order`);
      hub = taken.hub;
    }
    const kinds = step.changes.map((change) => change.type).join(", ");
    assert.deepEqual(withoutUncarried(hub.instances.studio), withoutUncarried(step.status), `after ${kinds}`);
  }
});

test("each change on its own leaves the status it was given untouched", () => {
  const before = structuredClone(fixture.snapshot);
  for (const change of changes) applyChange(fixture.snapshot, change);
  assert.deepEqual(fixture.snapshot, before);
});

test("a gap asks for a resync and ignores what follows until the snapshot", () => {
  let hub = receive(emptyHub(), snapshotMessage(fixture.snapshot, 10)).hub;
  const change = { ...changes[0], seq: 12 };
  const step = receive(hub, change);
  assert.equal(step.resync, true);
  assert.deepEqual(step.gap, [11, 11]);
  hub = step.hub;
  assert.equal(receive(hub, { ...changes[1], seq: 13 }).change, undefined);
  hub = receive(hub, snapshotMessage(last, 20)).hub;
  assert.equal(hub.seq, 20);
  assert.equal(receive(hub, { ...changes[0], seq: 20 }).change, undefined, "already in the snapshot");
});

test("a change about an unknown instance asks for a resync", () => {
  const hub = receive(emptyHub(), snapshotMessage(fixture.snapshot, 1)).hub;
  const step = receive(hub, { ...changes[0], seq: 2, instance: "elsewhere" });
  assert.equal(step.resync, true);
});

test("a rule's firing under no known instance is taken in order, not resynchronised", () => {
  const hub = receive(emptyHub(), snapshotMessage(fixture.snapshot, 1)).hub;
  const firing = { seq: 2, instance: "", at: "x", source: "rule", type: "rule_fired", rule: "failover", outcome: "fired" };
  const step = receive(hub, firing);
  assert.equal(step.resync, undefined);
  assert.equal(step.hub.seq, 2);
  assert.equal(step.hub.instances, hub.instances);
});

test("an unknown kind of change changes nothing", () => {
  const status = fixture.snapshot;
  assert.equal(applyChange(status, { type: "from_the_future", seq: 1, instance: "studio", at: "x" }), status);
});

test("an audio read makes the page read the inputs again", () => {
  const hub = receive(emptyHub(), snapshotMessage(fixture.snapshot, 1)).hub;
  const step = receive(hub, { seq: 2, instance: "studio", at: "x", source: "obs_event", type: "audio_changed", what: "read", input: "", state: null });
  assert.equal(step.audioRead, "studio");
});

test("the mixer lists the inputs heard in program and preview first", () => {
  const status = structuredClone(fixture.snapshot);
  status.current_scene = "Live";
  const names = mixerOrder(status).map((strip) => `${strip.input.name}${strip.onAir ? "*" : ""}`);
  // "Intro clip" is in the group "Lower third" inside Live.
  assert.deepEqual(names, ["Intro clip*", "Mic/Aux", "Music"]);
  status.current_scene = "Scene";
  assert.deepEqual(mixerOrder(status).map((strip) => strip.onAir), [false, false, false]);
});

test("the fleet puts an instance that is down first, whatever the order asked", () => {
  const up = (name, kbps) => ({
    ...structuredClone(fixture.snapshot),
    name,
    stream: { ...fixture.snapshot.stream, active: true, kbits_per_sec: kbps, skipped_frames: 0, total_frames: 100, congestion: 0 },
  });
  const down = { ...up("m", 0), connection: { ...fixture.snapshot.connection, state: "reconnecting" } };
  const instances = { a: up("a", 10), z: up("z", 9000), m: down };
  assert.deepEqual(fleetOrder(instances, "name").map((s) => s.name), ["m", "a", "z"]);
  assert.deepEqual(fleetOrder(instances, "bitrate").map((s) => s.name), ["m", "z", "a"]);
  assert.equal(problems(down)[0].level, 3);
  const lowDisk = { ...up("d", 1), stats: { ...fixture.snapshot.stats, available_disk_space_mb: 500 } };
  assert.match(problems(lowDisk)[0].text, /disk/);
});

test("fleet tiles name each instance's owner in a cluster, and nothing for a hub alone", () => {
  const answer = {
    node: "n1",
    answered_by: "n1",
    nodes: [
      { id: "n1", live: true },
      { id: "n2", live: false },
      { id: "n3", live: true },
    ],
    instances: [
      { name: "a", owner: "n1", epoch: 3 },
      { name: "b", owner: "n2", epoch: 1 },
      { name: "c", owner: "n3", epoch: 2 },
      { name: "d", owner: null, epoch: 0 },
    ],
  };
  assert.deepEqual(
    [...clusterOwners(answer)],
    [
      ["a", "on n1, this node"],
      ["b", "on n2, not live"],
      ["c", "on n3"],
      ["d", "unowned"],
    ],
  );
  // A hub alone answers 404 not_a_cluster: the page has no answer to give.
  assert.equal(clusterOwners(null).size, 0);
  assert.equal(clusterOwners({ error: "not_a_cluster" }).size, 0);
});
