//! A rolling deploy with real parts, as ECS and the ALB run one: the real `service` tasks behind
//! nginx in the ALB's role (`testkit::nginx_lb`), the real `local-gateway` (Kong's stand-in) in
//! front, and the real `loadgen` at a constant rate through the gateway for the whole deploy.
//!
//! - [`a_rolling_deploy_behind_the_load_balancer_fails_no_request`]: every task is replaced the
//!   way ECS does with minimum healthy 100% and maximum 200% (the new task first): start it,
//!   wait until the ALB's checks find it healthy (within the health-check grace period),
//!   register it, deregister the old one, wait the deregistration delay, SIGTERM it; it must
//!   drain and exit 0 within the stop timeout. Not one request may fail or go missing.
//! - [`a_task_killed_hard_costs_a_bounded_count_of_requests_and_the_canary_blames_the_upstream`]:
//!   one task is SIGKILLed mid-run. The ALB (no retries) sends the dead task its share of the
//!   requests until its checks find it unhealthy; those fail with 502, and no others. Their count
//!   is bounded by the settings, and the canary run meanwhile blames the upstream.
//!
//! The settings are the compute stack's ([`DEPLOYED`]; `wiring.rs` holds Terraform to them),
//! run [`SCALE`] times faster: a production second is a tenth of a second here.

mod parts;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use testkit::nginx_lb::NginxLb;
use testkit::target_health::{CheckSettings, Health, HealthChecks};

use crate::common;
use parts::{Canary, Gateway, Loadgen, Task};

/// The ECS service's and the ALB target group's settings, in production seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcsSettings {
    /// Tasks of the service (`desired_count` and `min_count`).
    pub desired_count: u64,
    /// The target group's `deregistration_delay`: how long a deregistered target keeps its
    /// requests in flight before ECS stops the task.
    pub deregistration_delay: u64,
    /// The container's `stopTimeout`: SIGTERM to SIGKILL.
    pub stop_timeout: u64,
    /// The ECS service's `health_check_grace_period_seconds`: how long a new task may take to
    /// pass the ALB's checks.
    pub health_check_grace_period: u64,
    /// The target group's health check `interval`.
    pub health_check_interval: u64,
    /// The target group's health check `timeout`.
    pub health_check_timeout: u64,
    /// Checks passed in a row before a target is healthy.
    pub healthy_threshold: u64,
    /// Checks failed in a row before a target is unhealthy.
    pub unhealthy_threshold: u64,
    /// `deployment_minimum_healthy_percent`.
    pub minimum_healthy_percent: u64,
    /// `deployment_maximum_percent`.
    pub maximum_percent: u64,
    /// The service's `SERVICE_SHUTDOWN_DRAIN`.
    pub service_drain: u64,
    /// The service's `SERVICE_SHUTDOWN_TIMEOUT`.
    pub service_shutdown_timeout: u64,
}

/// What terraform/modules/compute deploys.
pub const DEPLOYED: EcsSettings = EcsSettings {
    desired_count: 2,
    deregistration_delay: 20,
    stop_timeout: 25,
    health_check_grace_period: 30,
    health_check_interval: 10,
    health_check_timeout: 5,
    healthy_threshold: 2,
    unhealthy_threshold: 2,
    minimum_healthy_percent: 100,
    maximum_percent: 200,
    service_drain: 5,
    service_shutdown_timeout: 15,
};

/// Production seconds per test second: every setting runs ten times faster here.
pub const SCALE: u64 = 10;

/// A setting of [`DEPLOYED`] in test time.
fn scaled(seconds: u64) -> Duration {
    Duration::from_millis(seconds * 1000 / SCALE)
}

/// loadgen's constant rate (requests/s) and its connections (the most requests in flight).
const RATE: u64 = 200;
const CONNECTIONS: u64 = 8;
/// Traffic on the old tasks before the deploy starts, and on the new ones after it ended.
const LEAD_IN: Duration = Duration::from_secs(1);
const TAIL: Duration = Duration::from_secs(1);
/// The stand-in's own time to make a target change take effect (a reload), per change: the
/// test's allowance, no ECS setting.
const RELOAD_ALLOWANCE: Duration = Duration::from_millis(500);
/// Canary rounds tried while the killed task is still registered (each is a few probes).
const CANARY_ROUNDS: usize = 5;

/// The origin secret and the consumers' keys of this test's gateway.
const ORIGIN_SECRET: &str = "rolling-deploy-origin";
const LOADGEN_KEY: &str = "rolling-deploy-loadgen-key";
const CANARY_KEY: &str = "rolling-deploy-canary-key";

#[test]
fn a_rolling_deploy_behind_the_load_balancer_fails_no_request() {
    let s = DEPLOYED;
    let dir = common::temp_dir("rolling-deploy");
    let mut stack = Stack::start(&dir);
    let per_task = scaled(s.health_check_grace_period)
        + scaled(s.deregistration_delay)
        + scaled(s.stop_timeout)
        + 2 * RELOAD_ALLOWANCE;
    let duration = whole_seconds(LEAD_IN + per_task * s.desired_count as u32 + TAIL);
    let load = Loadgen::start(&dir, stack.gateway_url(), duration);
    std::thread::sleep(LEAD_IN);

    let old: Vec<SocketAddr> = stack.tasks.iter().map(|t| t.addr).collect();
    for _ in 0..s.desired_count {
        stack.replace_oldest();
    }
    let deployed = load.started.elapsed();
    assert!(
        deployed + TAIL <= duration,
        "the deploy took until {deployed:?} of loadgen's {duration:?}: it must end under load"
    );
    let new: Vec<SocketAddr> = stack.tasks.iter().map(|t| t.addr).collect();
    assert!(
        new.iter().all(|a| !old.contains(a)),
        "every task replaced: {old:?} -> {new:?}"
    );
    assert_eq!(stack.lb.targets(), &new[..], "the new tasks are registered");

    let report = load.finish();
    let answers = report.status_counts();
    println!("{}", stack.timeline());
    println!("{}", report.summary());
    assert_eq!(
        report.total(),
        RATE * duration.as_secs(),
        "every request of the schedule was sent and recorded: none lost"
    );
    assert_eq!(
        answers,
        BTreeMap::from([("200".to_owned(), report.total())]),
        "every request answered 200 through the whole deploy"
    );
    // Each request reached the ALB once (the gateway retried none) and got a 200 from a task,
    // and every task, old and new, served its share.
    let proxied: Vec<_> = stack
        .lb
        .access_log()
        .into_iter()
        .filter(|e| e.path == "/api/v1/sum")
        .collect();
    assert_eq!(proxied.len() as u64, report.total(), "one ALB request each");
    assert!(proxied.iter().all(|e| e.target_status == Some(200)));
    for task in old.iter().chain(&new) {
        let served = proxied.iter().filter(|e| e.target == Some(*task)).count();
        assert!(served > 0, "task {task} served no request");
    }
    drop(stack);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_task_killed_hard_costs_a_bounded_count_of_requests_and_the_canary_blames_the_upstream() {
    let s = DEPLOYED;
    let dir = common::temp_dir("rolling-deploy-kill");
    let mut stack = Stack::start(&dir);
    // Found unhealthy after `unhealthy_threshold` failed checks; the first may come up to one
    // interval after the kill, and one interval more is slack for the checks' own timing.
    let detection = scaled(s.health_check_interval) * (s.unhealthy_threshold as u32 + 1)
        + scaled(s.health_check_timeout);
    let duration = whole_seconds(
        LEAD_IN + detection + scaled(s.health_check_grace_period) + 2 * RELOAD_ALLOWANCE + TAIL,
    );
    let load = Loadgen::start(&dir, stack.gateway_url(), duration);
    std::thread::sleep(LEAD_IN);

    let mut victim = stack.tasks.remove(0);
    victim.process.signal("KILL");
    let killed = Instant::now();
    stack.note(&format!("SIGKILL task {}", victim.addr));
    let canary = Canary::rounds_until_one_fails(&dir, stack.gateway_url());
    let unhealthy = stack
        .checks
        .wait(victim.addr, Health::Unhealthy, killed + detection);
    stack.note(&format!("ALB: {} unhealthy", victim.addr));
    stack.deregister(victim.addr);
    let removed = killed.elapsed();
    canary.stop.store(true, Ordering::SeqCst);
    let rounds = canary.thread.join().expect("the canary thread");
    let replacement = stack.launch_healthy();
    stack.register(replacement);

    let report = load.finish();
    println!("{}", stack.timeline());
    println!("{}", report.summary());
    let answers = report.status_counts();
    let ok = answers.get("200").copied().unwrap_or(0);
    let failed = report.total() - ok;
    let exposed = detection + RELOAD_ALLOWANCE;
    let bound =
        CONNECTIONS + (RATE as f64 * exposed.as_secs_f64() / s.desired_count as f64).ceil() as u64;
    println!(
        "killed task {}: unhealthy after {unhealthy:?}, out of the ALB after {removed:?}; \
         {failed} of {} requests failed (bound {bound})",
        victim.addr,
        report.total()
    );
    assert_eq!(
        report.total(),
        RATE * duration.as_secs(),
        "every request of the schedule was sent and recorded: none lost"
    );
    assert!(
        failed > 0,
        "the dead task stayed registered until found unhealthy and the ALB does not retry, \
         so some requests must fail: {answers:?}"
    );
    assert!(
        failed <= bound,
        "{failed} requests failed; at most {bound} may: the requests in flight \
         ({CONNECTIONS} connections) and the dead task's share of {RATE}/s for {exposed:?} \
         of detection and a reload: {answers:?}"
    );
    assert_eq!(
        answers.keys().collect::<Vec<_>>(),
        ["200", "502"],
        "failures are the ALB's 502 for the dead target, nothing else"
    );
    // At the ALB: every failure was the dead target's, and they are the ones loadgen counted
    // plus the canary's own.
    let log = stack.lb.access_log();
    let elsewhere: Vec<_> = log
        .iter()
        .filter(|e| e.status != 200 && e.target != Some(victim.addr))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "failures on live targets: {elsewhere:?}"
    );
    let dead = log.iter().filter(|e| e.status == 502).count();
    let canary_failed: usize = rounds.iter().map(|r| r.failed_probes().len()).sum();
    assert_eq!(dead as u64, answers["502"] + canary_failed as u64);

    // The canary: at least one round saw the dead task; every probe it failed is blamed on the
    // upstream (the gateway answered 502 for it), and the gateway's own probes passed.
    for r in &rounds {
        println!("canary round (exit {:?}):\n{}", r.code, r.stdout);
    }
    let failed_round = rounds
        .iter()
        .find(|r| !r.failed_probes().is_empty())
        .unwrap_or_else(|| panic!("no canary round saw the dead task: {rounds:#?}"));
    assert_eq!(failed_round.code, Some(1), "a failed probe is exit 1");
    for line in failed_round.failed_probes() {
        assert!(
            line.contains("status=502") && line.contains("blame=upstream"),
            "the canary blames the upstream for the dead task's 502: {line}"
        );
    }
    for probe in ["auth_missing_key", "auth_bad_key"] {
        assert!(
            failed_round
                .stdout
                .lines()
                .any(|l| l.starts_with("PASS") && l.contains(probe)),
            "the gateway's own probe {probe} passed:\n{}",
            failed_round.stdout
        );
    }
    drop(stack);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The whole stack: tasks, the ALB stand-in and its health checks, the gateway.
struct Stack {
    dir: PathBuf,
    settings: EcsSettings,
    /// Running and registered tasks, oldest first.
    tasks: Vec<Task>,
    next_task: usize,
    checks: HealthChecks,
    lb: NginxLb,
    gateway: Gateway,
    started: Instant,
    events: Vec<(Duration, String)>,
}

impl Stack {
    /// [`DEPLOYED`]`.desired_count` healthy tasks behind the ALB, the gateway in front.
    fn start(dir: &Path) -> Stack {
        let settings = DEPLOYED;
        let lb_dir = dir.join("alb");
        std::fs::create_dir_all(&lb_dir).expect("the ALB's directory");
        let lb = NginxLb::start(&lb_dir, &[]);
        let gateway = Gateway::start(dir, lb.addr());
        let mut stack = Stack {
            dir: dir.to_path_buf(),
            settings,
            tasks: Vec::new(),
            next_task: 1,
            checks: HealthChecks::start(CheckSettings {
                path: "/healthz/ready".to_owned(),
                interval: scaled(settings.health_check_interval),
                timeout: scaled(settings.health_check_timeout),
                healthy_threshold: settings.healthy_threshold,
                unhealthy_threshold: settings.unhealthy_threshold,
            }),
            lb,
            gateway,
            started: Instant::now(),
            events: Vec::new(),
        };
        for _ in 0..settings.desired_count {
            let task = stack.launch_healthy();
            stack.register(task);
        }
        stack.gateway.wait_serving();
        stack
    }

    fn gateway_url(&self) -> String {
        format!("http://{}", self.gateway.addr)
    }

    fn note(&mut self, event: &str) {
        self.events.push((self.started.elapsed(), event.to_owned()));
    }

    /// The events with their times, for the test's output.
    fn timeline(&self) -> String {
        let lines: Vec<String> = self
            .events
            .iter()
            .map(|(t, e)| format!("{:>8.3}s  {e}", t.as_secs_f64()))
            .collect();
        format!("timeline:\n{}", lines.join("\n"))
    }

    /// Starts a task and waits until the ALB's checks find it healthy, which must happen within
    /// the health-check grace period (or ECS would count the task failed).
    fn launch_healthy(&mut self) -> Task {
        let s = self.settings;
        let running = self.tasks.len() as u64 + 1;
        assert!(
            running * 100 <= s.desired_count * s.maximum_percent,
            "{running} tasks exceed maximum_percent {}",
            s.maximum_percent
        );
        let task = Task::start(&self.dir, self.next_task);
        self.next_task += 1;
        self.note(&format!("ECS: started task {}", task.addr));
        let started = Instant::now();
        self.checks.register(task.addr);
        let healthy = self.checks.wait(
            task.addr,
            Health::Healthy,
            started + scaled(s.health_check_grace_period),
        );
        self.note(&format!("ALB: {} healthy after {healthy:?}", task.addr));
        task
    }

    fn register(&mut self, task: Task) {
        let mut targets = self.lb.targets().to_vec();
        targets.push(task.addr);
        let took = self.lb.set_targets(&targets);
        self.note(&format!("ALB: registered {} ({took:?})", task.addr));
        self.tasks.push(task);
    }

    fn deregister(&mut self, addr: SocketAddr) {
        self.checks.deregister(addr);
        let targets: Vec<SocketAddr> = self
            .lb
            .targets()
            .iter()
            .copied()
            .filter(|t| *t != addr)
            .collect();
        let took = self.lb.set_targets(&targets);
        self.note(&format!("ALB: deregistered {addr} ({took:?})"));
    }

    /// One rolling step: the replacement in first, then the oldest task out, drained and
    /// stopped as ECS stops it.
    fn replace_oldest(&mut self) {
        let s = self.settings;
        let new = self.launch_healthy();
        self.register(new);
        let mut old = self.tasks.remove(0);
        let healthy_left = self.tasks.len() as u64;
        assert!(
            healthy_left * 100 >= s.desired_count * s.minimum_healthy_percent,
            "{healthy_left} healthy tasks break minimum_healthy_percent {}",
            s.minimum_healthy_percent
        );
        self.deregister(old.addr);
        std::thread::sleep(scaled(s.deregistration_delay));
        old.process.signal("TERM");
        let signalled = Instant::now();
        self.note(&format!("ECS: SIGTERM {}", old.addr));
        let status = old.process.wait_exit(scaled(s.stop_timeout));
        let took = signalled.elapsed();
        assert!(
            status.is_some_and(|st| st.success()),
            "task {} did not exit 0 within the stop timeout {:?} (ECS would SIGKILL it): {status:?}\n{}",
            old.addr,
            scaled(s.stop_timeout),
            old.process.output_text()
        );
        self.note(&format!("ECS: {} exited 0 after {took:?}", old.addr));
    }
}

/// `d` rounded up to whole seconds (loadgen's --duration here).
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}
