//! Figure 12: rules (issue 20). Trigger to action: a rule switching the scene when OBS shows
//! another, against a client doing the same over the hub's WebSocket and REST API. CPU: a hub
//! with 1,000 rules evaluated on every change at 30 instances, against the same hub with none.

use std::{fmt::Write as _, time::Duration};

use obs_hub::fake_obs::FakeObs;

use crate::{
    fig_footprint::start_fakes,
    fig_relay_floor::{direct_client, hub_client, next_arrival},
    fig_status::hub_with_fake,
    http::HttpClient,
    procs::{self, HubSpec, Process},
    report::{Figure, Row, Unit},
    stats::{paired_ratios, percentile},
    wait, Bench,
};

const TITLE: &str = "Rules: trigger to action, and the CPU of 1,000 rules";
/// The rule fires when OBS shows `RULE_TRIGGER` and switches to `RULE_TARGET`; the API client
/// does the same from `CLIENT_TRIGGER` to `CLIENT_TARGET` (scenes of the simulated OBS).
const RULE_TRIGGER: &str = "Starting Soon";
const RULE_TARGET: &str = "Live";
const CLIENT_TRIGGER: &str = "BRB";
const CLIENT_TARGET: &str = "Ending";
const INSTANCES: usize = 30;
const RULES: usize = 1000;

pub async fn figure(bench: &Bench) -> Figure {
    match has_rules(bench).await {
        Ok(true) => {}
        Ok(false) => {
            return Figure::skipped(
                12,
                TITLE,
                "this build of the hub has no rules (GET /api/rules/ is 404; issue 20's \
                 branch i20-rules is not merged into it)",
            )
        }
        Err(error) => return Figure::new(12, TITLE).failed(error),
    }
    let mut figure = Figure::new(12, TITLE);
    match measure(bench, &mut figure).await {
        Ok(()) => figure,
        Err(error) => figure.failed(error),
    }
}

async fn has_rules(bench: &Bench) -> Result<bool, String> {
    let (hub, _fake) = hub_with_fake(bench, "", None).await?;
    let reply = HttpClient::new(hub.port).get("/api/rules/").await?;
    Ok(reply.status == 200)
}

/// `[[rules]]` tables (the config file's form of the API's JSON).
fn latency_rule() -> String {
    format!(
        "[[rules]]\nname = \"bench-trigger-to-action\"\n\
         trigger = {{ type = \"change\", kind = \"scene_changed\", instance = \"default\", \
         where = {{ scene = \"{RULE_TRIGGER}\" }} }}\n\
         actions = [{{ type = \"switch_scene\", scene = \"{RULE_TARGET}\" }}]\n"
    )
}

/// Rules whose trigger matches every scene change and whose condition is read and does not
/// hold: each is evaluated on every change and none acts.
fn idle_rules(count: usize) -> String {
    let mut toml = String::new();
    for i in 0..count {
        let _ = write!(
            toml,
            "\n[[rules]]\nname = \"idle-{i:04}\"\n\
             trigger = {{ type = \"change\", kind = \"scene_changed\" }}\n\
             conditions = {{ field = \"current_scene\", op = \"eq\", value = \"Nowhere {i}\" }}\n\
             actions = [{{ type = \"switch_scene\", scene = \"Nowhere\" }}]\n"
        );
    }
    toml
}

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), String> {
    let blocks = bench.rounds(10, 2);
    let per_block = bench.rounds(100, 25);
    latency(bench, figure, blocks, per_block).await?;
    let rounds = bench.rounds(3, 1);
    let sweeps = bench.rounds(10, 3);
    cpu(bench, figure, rounds, sweeps).await?;
    figure.method = format!(
        "Trigger to action: one `obs-hub serve` (default settings) with one simulated OBS and a \
         rule from its config file: on `scene_changed` to `{RULE_TRIGGER}`, switch the scene to \
         `{RULE_TARGET}`. The baseline is what a user would write without rules, in the bench \
         process: a client on the hub's `/ws` that, on `scene_changed` to `{CLIENT_TRIGGER}`, \
         sends `POST /api/switch-scene/` with `{CLIENT_TARGET}` (one keep-alive connection). \
         Firings alternate between the two (rule, client, rule...), {per_block} of each per \
         block, {blocks} blocks ({n} firings each), 5 ms apart; each is timed from right before \
         `switch_scene_from_obs` to an obs-websocket client connected straight to the simulated \
         OBS reading the target scene's CurrentProgramSceneChanged. Values are the blocks' p50 \
         and p99 [min – max over the blocks]; ratios pair the blocks. CPU: two hubs side by \
         side, each with {INSTANCES} simulated OBS instances (all connected, `http_workers = \
         {w}`): one with {RULES} rules whose trigger is any `scene_changed` and whose condition \
         (`current_scene` equal to a scene that does not exist) is read and does not hold, the \
         other with none. A round: {sweeps} sweeps of a scene switch on every instance (10 ms \
         apart), on one hub then the other (order alternating), each hub's CPU time (schedstat \
         of all its threads) from the first switch to 500 ms after the last, divided by the \
         changes; {rounds} round(s).",
        n = blocks * per_block,
        w = bench.workers,
    );
    Ok(())
}

async fn latency(
    bench: &Bench,
    figure: &mut Figure,
    blocks: usize,
    per_block: usize,
) -> Result<(), String> {
    let (hub, fake) = hub_with_fake(bench, &latency_rule(), None).await?;
    let mut observer = direct_client(fake.port()).await?;
    // The API client: reacts to its trigger scene on /ws with a REST switch.
    let mut feed = hub_client(hub.port).await?;
    let port = hub.port;
    let client = tokio::spawn(async move {
        let mut http = HttpClient::new(port);
        let wanted = format!("\"scene\":\"{CLIENT_TRIGGER}\"");
        let body = format!("{{\"scene_name\":\"{CLIENT_TARGET}\"}}");
        while let Some((_, text)) = feed.recv().await {
            if text.contains(&wanted) {
                match http
                    .post_json("/api/switch-scene/", &[], body.as_bytes())
                    .await
                {
                    Ok(reply) if reply.status == 200 => {}
                    Ok(reply) => return Err(format!("switch-scene answered {}", reply.status)),
                    Err(error) => return Err(error),
                }
            }
        }
        Ok::<(), String>(())
    });
    let mut rule = (Vec::new(), Vec::new());
    let mut api = (Vec::new(), Vec::new());
    for _ in 0..blocks {
        let (mut rule_ms, mut api_ms) = (Vec::new(), Vec::new());
        for _ in 0..per_block {
            for (trigger, target, into) in [
                (RULE_TRIGGER, RULE_TARGET, &mut rule_ms),
                (CLIENT_TRIGGER, CLIENT_TARGET, &mut api_ms),
            ] {
                let sent = std::time::Instant::now();
                if !fake.switch_scene_from_obs(trigger).await {
                    return Err(format!("the simulated OBS has no scene `{trigger}`"));
                }
                let arrived = next_arrival(&mut observer, target, "direct")
                    .await
                    .map_err(|error| {
                        if client.is_finished() {
                            format!("{error} (the API client stopped)")
                        } else {
                            error
                        }
                    })?;
                into.push(arrived.saturating_duration_since(sent).as_secs_f64() * 1000.0);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        for (values, into) in [(rule_ms, &mut rule), (api_ms, &mut api)] {
            let mut values = values;
            let (Some(p50), Some(p99)) = (
                percentile(&mut values.clone(), 50.0),
                percentile(&mut values, 99.0),
            ) else {
                return Err("no firing measured".to_string());
            };
            into.0.push(p50);
            into.1.push(p99);
        }
    }
    client.abort();
    let firings = blocks * per_block;
    for (label, hub_values, baseline) in [("p50", &rule.0, &api.0), ("p99", &rule.1, &api.1)] {
        figure.rows.push(
            Row::new(format!("trigger → action {label}, {firings} firings"))
                .hub(hub_values, Unit::Millis)
                .baseline("client on /ws + REST", baseline, Unit::Millis)
                .ratio(&paired_ratios(hub_values, baseline)),
        );
    }
    let mut http = HttpClient::new(hub.port);
    let view = http.get_json("/api/rules/bench-trigger-to-action").await?;
    figure.notes.push(format!(
        "The rule's last firing as the hub reports it: {}.",
        view["last_firing"]
    ));
    Ok(())
}

async fn hub_on(bench: &Bench, fakes: &[FakeObs], extra_toml: String) -> Result<Process, String> {
    let instances = fakes
        .iter()
        .enumerate()
        .map(|(i, fake)| (format!("obs{i:02}"), fake.port()))
        .collect();
    let hub = procs::start_hub(
        &bench.workspace,
        &HubSpec {
            workers: Some(bench.workers),
            instances,
            extra_toml,
        },
    )
    .await?;
    wait::all_connected(hub.port, fakes.len()).await?;
    Ok(hub)
}

/// Hub CPU seconds per change over `sweeps` scene switches on every instance.
async fn cpu_per_change(hub: &Process, fakes: &[FakeObs], sweeps: usize) -> Result<f64, String> {
    let names = fakes[0].scene_names();
    let before = hub.cpu_seconds()?;
    for sweep in 0..sweeps {
        let scene = &names[(sweep + 1) % names.len()];
        for fake in fakes {
            if !fake.switch_scene_from_obs(scene).await {
                return Err(format!("the simulated OBS has no scene `{scene}`"));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The rules engine hears the changes after the status manager: let it finish the last ones.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = hub.cpu_seconds()?;
    Ok((after - before) / (sweeps * fakes.len()) as f64)
}

async fn cpu(
    bench: &Bench,
    figure: &mut Figure,
    rounds: usize,
    sweeps: usize,
) -> Result<(), String> {
    let fakes_rules = start_fakes(INSTANCES).await?;
    let fakes_plain = start_fakes(INSTANCES).await?;
    let with_rules = hub_on(bench, &fakes_rules, idle_rules(RULES)).await?;
    let plain = hub_on(bench, &fakes_plain, String::new()).await?;
    let listed = HttpClient::new(with_rules.port)
        .get_json("/api/rules/")
        .await?["rules"]
        .as_array()
        .map_or(0, Vec::len);
    if listed != RULES {
        return Err(format!("the hub lists {listed} rules, not {RULES}"));
    }
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            on.push(cpu_per_change(&with_rules, &fakes_rules, sweeps).await?);
            off.push(cpu_per_change(&plain, &fakes_plain, sweeps).await?);
        } else {
            off.push(cpu_per_change(&plain, &fakes_plain, sweeps).await?);
            on.push(cpu_per_change(&with_rules, &fakes_rules, sweeps).await?);
        }
    }
    let millis = |values: &[f64]| values.iter().map(|s| s * 1000.0).collect::<Vec<f64>>();
    figure.rows.push(
        Row::new(format!(
            "hub CPU per change, {RULES} rules at {INSTANCES} instances"
        ))
        .hub(&millis(&on), Unit::Millis)
        .baseline("no rules", &millis(&off), Unit::Millis)
        .ratio(&paired_ratios(&on, &off)),
    );
    let extra: Vec<f64> = on
        .iter()
        .zip(&off)
        .map(|(a, b)| (a - b) / RULES as f64)
        .collect();
    if let Some(median) = percentile(&mut extra.clone(), 50.0) {
        figure.notes.push(format!(
            "CPU per rule evaluated on a change (with rules − without, / {RULES}): {:.2} µs \
             (median of the rounds).",
            median * 1e6
        ));
    }
    Ok(())
}
