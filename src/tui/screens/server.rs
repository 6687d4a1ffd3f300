//! Server: which binary, how to start it, where it listens and stores, TLS.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Ctx, Nav, Outcome, Screen};
use crate::answers::{
    Answers, ClusterFile, Launch, validate_cluster, validate_file_path, validate_listen, validate_not_blank,
    validate_tls,
};
use crate::tui::form::{self, Form, FormScreen};
use crate::tui::keys::{Binding, ENTER, always, back};
use crate::tui::msg::Command;
use crate::vault::VaultError;
use crate::vault::discover::Host;
use crate::vault::server::ServerBinary;

pub const WHY: &str = "HashiCorp Vault or OpenBao (2.6; 2.7 moved awskms to a plugin), started by systemd, \
in the background by autounseal, or by you. Storage is integrated (raft).";

/// The server binary named so, looked for and its version read (in the background).
pub struct BinaryProbe {
    pub named: String,
    pub found: Result<ServerBinary, VaultError>,
}

/// What the host has for the answers it was asked for, and the lines that say it
/// (see `Host::report`): typed, for what a later screen decides on it.
pub struct HostReport {
    pub asked: Answers,
    pub host: Host,
    pub lines: Vec<String>,
}

pub struct Server {
    pub form: Form,
    pub probe: Option<BinaryProbe>,
    pub host: Option<HostReport>,
    /// The answers a discovery was last asked for: one per change of them.
    host_asked: Option<Answers>,
    /// The name a probe was last asked for: one probe per name (a binary that hangs
    /// must not be started again on every Enter).
    asked: Option<String>,
    /// A binary not found is a note until the operator tries to go on.
    strict: bool,
    /// Enter was pressed while the binary was being probed: go on once it answers.
    submitting: bool,
}

impl Server {
    fn with(a: &Answers) -> Server {
        let path = |p: &Option<std::path::PathBuf>| {
            p.as_deref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let launch = Launch::ALL.iter().position(|l| *l == a.server.launch).unwrap_or(0);
        let mut form = Form::new(vec![
            form::text(
                "binary",
                "Server binary",
                &a.server.binary,
                Box::new(|v| validate_not_blank(v, "the server binary")),
            ),
            form::choice(
                "launch",
                "Start with",
                Launch::ALL.iter().map(|l| l.as_str()).collect(),
                launch,
            ),
            form::choice(
                "layout",
                "Servers",
                LAYOUTS.iter().map(|(label, _)| *label).chain([JOIN]).collect(),
                match &a.cluster.join {
                    Some(_) => LAYOUTS.len(),
                    None => LAYOUTS.iter().position(|(_, n)| *n == a.cluster.nodes).unwrap_or(0),
                },
            ),
            form::text(
                "cluster_file",
                "Cluster file",
                &path(&a.cluster.join),
                Box::new(|v| validate_not_blank(v, "the cluster file (cluster.toml in the first node's state folder)")),
            ),
            form::text("listen", "Listen on", &a.server.listen, Box::new(validate_listen)),
            form::text(
                "storage",
                "Storage folder",
                &a.server.storage_path.to_string_lossy(),
                Box::new(|v| validate_file_path(v.as_ref())),
            ),
            form::toggle("tls_disable", "Plain HTTP", a.server.tls_disable),
            form::text(
                "cert",
                "TLS certificate",
                &path(&a.server.tls_cert_file),
                Box::new(|v| validate_not_blank(v, "the certificate path")),
            ),
            form::text(
                "key",
                "TLS key",
                &path(&a.server.tls_key_file),
                Box::new(|v| validate_not_blank(v, "the key path")),
            ),
        ]);
        show_tls(&mut form);
        show_layout(&mut form);
        Server {
            form,
            probe: None,
            host: None,
            host_asked: None,
            asked: None,
            strict: false,
            submitting: false,
        }
    }
}

/// The Server screen's choice of one server or a cluster on this machine (see
/// docs/cluster.md): its label and `cluster.nodes`. After them, [`JOIN`].
/// Short enough that every choice fits one row of 80 columns.
const LAYOUTS: [(&str, u16); 3] = [("single server", 1), ("3 nodes", 3), ("5 nodes", 5)];

/// The last choice of "Servers": this host joins a cluster that exists, from its file.
const JOIN: &str = "join a cluster";

fn joining(form: &Form) -> bool {
    form.choice_index("layout") == LAYOUTS.len()
}

fn show_layout(form: &mut Form) {
    let join = joining(form);
    form.set_hidden("cluster_file", !join);
    let nodes = LAYOUTS.get(form.choice_index("layout")).map_or(1, |l| l.1);
    form.field_mut("layout").note = if join {
        Some(
            "this host: one more node of an existing cluster; its key, region and policy come from its file"
                .to_string(),
        )
    } else {
        (nodes > 1)
            .then(|| format!("a cluster of {nodes} raft nodes on this machine, in the background, API ports 10 apart"))
    };
}

/// The cluster file field's value as a path, when this host joins and one is typed.
fn join_path(form: &Form) -> Option<std::path::PathBuf> {
    let typed = form.value("cluster_file");
    (joining(form) && !typed.trim().is_empty()).then(|| typed.trim().into())
}

fn show_tls(form: &mut Form) {
    let plain = form.is_on("tls_disable");
    form.set_hidden("cert", plain);
    form.set_hidden("key", plain);
    let exposed = crate::answers::parse_listen(form.value("listen").trim()).is_some_and(|a| !a.ip().is_loopback());
    form.field_mut("tls_disable").note = plain.then(|| {
        if exposed {
            "WARNING: plain HTTP beyond this machine; tokens cross the network in clear".to_string()
        } else {
            "only for a listener on 127.0.0.1 or a test".to_string()
        }
    });
}

impl Server {
    fn launch(&self) -> Launch {
        Launch::ALL[self.form.choice_index("launch")]
    }

    /// The binary's field as typed (the probe trims it, as `store` does).
    fn named(&self) -> String {
        self.form.value("binary")
    }

    fn probed(&self) -> bool {
        self.probe.as_ref().is_some_and(|p| p.named == self.named())
    }

    /// Asks for the binary named now to be probed, unless it was.
    fn probe_binary(&mut self) -> Vec<Command> {
        let named = self.named();
        if self.probed() || named.trim().is_empty() || self.asked.as_ref() == Some(&named) {
            return vec![];
        }
        self.asked = Some(named.clone());
        vec![Command::ProbeBinary(named)]
    }

    /// The answers as this screen would leave them: what discovery looks for (and the
    /// cluster file it reads).
    fn asking(&self, ctx: &Ctx) -> Answers {
        let mut a = ctx.answers.clone();
        a.server.binary = self.named().trim().into();
        a.server.listen = self.form.value("listen").trim().into();
        a.server.storage_path = self.form.value("storage").trim().into();
        a.cluster.join = join_path(&self.form);
        a
    }

    /// The cluster file as discovery read it for the path on screen (or why it cannot).
    fn cluster_file(&self) -> Option<&Result<ClusterFile, String>> {
        let report = self.host.as_ref()?;
        (report.asked.cluster.join == join_path(&self.form))
            .then_some(report.host.cluster_file.as_ref())
            .flatten()
    }

    /// What reading the cluster file found, under its field: why it cannot be used, or
    /// the cluster it describes and the node this host becomes.
    fn show_cluster_file(&mut self, ctx: &Ctx) {
        let (problem, note) = match self.cluster_file() {
            None => return,
            Some(Err(e)) => (Some(e.clone()), None),
            Some(Ok(file)) => (
                None,
                Some(format!(
                    "this host joins as {} the cluster of {} node(s) led by {}; its key {} in {}",
                    file.free_node_id(&ctx.answers.server.node_id),
                    file.nodes.len(),
                    file.leader_addr(),
                    file.kms_key_arn,
                    file.region,
                )),
            ),
        };
        let typed = self.form.value("cluster_file");
        self.form.probed(&["cluster_file"], &typed, problem, note);
    }

    /// Asks what the host has for the answers as they are now, unless that was asked.
    fn discover_host(&mut self, ctx: &Ctx) -> Vec<Command> {
        let asking = self.asking(ctx);
        // The server is asked at the listener's address: only a valid one.
        if self.host_asked.as_ref() == Some(&asking) || validate_listen(&asking.server.listen).is_err() {
            return vec![];
        }
        self.host_asked = Some(asking.clone());
        vec![Command::DiscoverHost(Box::new(asking))]
    }

    pub fn on_host(&mut self, ctx: &mut Ctx, report: HostReport) -> Outcome {
        // An answer about a binary, address, folder or cluster file since changed is dropped.
        if report.asked != self.asking(ctx) {
            return Outcome::stay();
        }
        self.host = Some(report);
        self.show_cluster_file(ctx);
        if self.submitting && self.join_checked() {
            return self.submit(ctx, ENTER.event());
        }
        Outcome::stay()
    }

    /// Joining, the cluster file on screen has been read; not joining, nothing to read.
    fn join_checked(&self) -> bool {
        !joining(&self.form) || self.cluster_file().is_some()
    }

    /// What the probe found, under the binary's field: whether it can serve, decided on
    /// the probe's typed answer.
    fn show_probe(&mut self) {
        let Some(probe) = &self.probe else { return };
        let missing_is_fine = !self.strict || self.launch() == Launch::None;
        let (problem, note) = match &probe.found {
            Ok(b) if b.has_builtin_awskms() => (
                None,
                Some(format!("found {} at {}", b.version_text(), b.path.display())),
            ),
            Ok(b) => (
                Some(format!(
                    "{} has no built-in awskms seal (a plugin since 2.7)",
                    b.version_text()
                )),
                None,
            ),
            // Launch "none" needs no binary, but a wrong one (e.g. /bin/ls) is never right.
            Err(VaultError::BinaryMissing { .. }) if missing_is_fine => (
                None,
                Some("not found: install it, give its path, or start with \"none\"".to_string()),
            ),
            Err(VaultError::BinaryMissing { .. }) => (
                Some("not found: install Vault or OpenBao 2.6, give its path, or choose \"none\"".to_string()),
                None,
            ),
            // Found, but not a server (e.g. /bin/ls): say exactly that.
            Err(other) => (Some(other.to_string()), None),
        };
        let named = probe.named.clone();
        self.form.probed(&["binary"], &named, problem, note);
    }

    pub fn on_binary(&mut self, ctx: &mut Ctx, named: String, found: Result<ServerBinary, VaultError>) -> Outcome {
        // An answer about a name since changed is dropped.
        if named != self.named() {
            return Outcome::stay();
        }
        self.probe = Some(BinaryProbe { named, found });
        self.show_probe();
        if self.submitting {
            return self.submit(ctx, ENTER.event());
        }
        Outcome::stay()
    }

    fn store(&mut self, ctx: &mut Ctx) -> bool {
        let f = &self.form;
        let s = &mut ctx.answers.server;
        s.binary = self.named().trim().into();
        s.launch = self.launch();
        s.listen = f.value("listen").trim().into();
        s.storage_path = f.value("storage").trim().into();
        s.tls_disable = f.is_on("tls_disable");
        let path = |id: &str| {
            Some(f.value(id).trim().to_string())
                .filter(|v| !v.is_empty())
                .map(Into::into)
        };
        s.tls_cert_file = path("cert");
        s.tls_key_file = path("key");
        // autounseal initialises only a server it starts.
        ctx.answers.init.enabled = s.launch != Launch::None;
        ctx.answers.cluster.nodes = LAYOUTS.get(f.choice_index("layout")).map_or(1, |l| l.1);
        if ctx.answers.cluster.join.take().is_some() {
            // The peers were the cluster file's nodes.
            ctx.answers.cluster.peers.clear();
        }
        if let Err(e) = validate_cluster(&ctx.answers.cluster, ctx.answers.server.launch) {
            self.form.field_mut("layout").error = Some(e);
            return false;
        }
        if let Err(e) = validate_tls(&ctx.answers.server) {
            self.form.field_mut("cert").error = Some(e);
            return false;
        }
        if let Some(Ok(file)) = self.cluster_file().cloned() {
            return self.store_join(ctx, &file);
        }
        true
    }

    /// This host as one more node of the cluster `file` describes: its key, region,
    /// policy and peers in the answers, so that Review shows them and the run joins.
    fn store_join(&mut self, ctx: &mut Ctx, file: &ClusterFile) -> bool {
        let path = join_path(&self.form);
        let mut own = ctx.answers.clone();
        own.server.node_id = file.free_node_id(&own.server.node_id);
        match file.member_answers(&own) {
            Ok(member) => {
                ctx.answers = member;
                ctx.answers.cluster.join = path;
                true
            }
            Err(e) => {
                // The one this screen can fix: an address the cluster already has.
                let field = if e.contains("server.listen") {
                    "listen"
                } else {
                    "cluster_file"
                };
                self.form.field_mut(field).error = Some(e);
                self.form.focus_on(field);
                false
            }
        }
    }

    fn submit(&mut self, ctx: &mut Ctx, _: KeyEvent) -> Outcome {
        self.submitting = false;
        self.strict = true;
        self.show_probe();
        if !self.form.validate_all() {
            return Outcome::stay();
        }
        if !self.probed() {
            // Goes on when the probe answers (see `on_binary`).
            self.submitting = true;
            return Outcome::run(self.probe_binary());
        }
        if !self.join_checked() {
            // Goes on when the cluster file is read (see `on_host`).
            self.submitting = true;
            return Outcome::run(self.discover_host(ctx));
        }
        if self.store(ctx) {
            Outcome::go(Nav::Forward)
        } else {
            Outcome::stay()
        }
    }
}

impl FormScreen for Server {
    fn form(&self) -> &Form {
        &self.form
    }

    fn form_mut(&mut self) -> &mut Form {
        &mut self.form
    }

    fn changed(&mut self, ctx: &mut Ctx, id: &'static str) -> Outcome {
        match id {
            "tls_disable" | "listen" => show_tls(&mut self.form),
            "launch" => self.show_probe(),
            "layout" => {
                show_layout(&mut self.form);
                return Outcome::run(self.discover_host(ctx));
            }
            _ => {}
        }
        Outcome::stay()
    }

    /// The binary is probed, and the host looked at again, once the operator leaves a
    /// field they depend on, not on every keystroke.
    fn left(&mut self, ctx: &mut Ctx, from: &'static str) -> Outcome {
        let mut commands = if from == "binary" { self.probe_binary() } else { vec![] };
        if matches!(from, "binary" | "listen" | "storage" | "cluster_file") {
            commands.extend(self.discover_host(ctx));
        }
        Outcome::run(commands)
    }
}

impl Screen for Server {
    const KEYS: &'static [Binding<Self>] = &[
        form::focus_keys(),
        form::change_keys(),
        form::clear_keys(),
        Binding {
            keys: &[ENTER],
            label: "Enter",
            what: "continue",
            when: always,
            action: Server::submit,
        },
        back(),
    ];

    fn new(a: &Answers) -> Server {
        Server::with(a)
    }

    /// Probed again on each visit: the binary may have been installed meanwhile.
    fn enter(&mut self, ctx: &mut Ctx) -> Vec<Command> {
        self.asked = None;
        self.host_asked = None;
        self.submitting = false;
        self.probe = None;
        self.form.field_mut("binary").probe = None;
        let mut commands = self.probe_binary();
        commands.extend(self.discover_host(ctx));
        commands
    }

    fn takes_typing(&self) -> bool {
        self.form.on_text()
    }

    fn typed(&mut self, ctx: &mut Ctx, key: KeyEvent) -> Outcome {
        form::typed(self, ctx, key)
    }

    fn view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        view(self, frame, area, ctx)
    }
}

fn view(server: &Server, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let rest = super::why(frame, area, WHY, t);
    let below = server.form.render_on_top(frame, rest, t);
    let hint = match server.form.choice_index("launch") {
        0 => "systemd: a drop-in with EnvironmentFile=, then a restart of the unit.",
        1 => "background: autounseal starts it; log and pid go to its state folder.",
        _ => "none: autounseal writes the files and shows the command; no init.",
    };
    let mut text = vec![Line::styled(hint, t.dim)];
    if server.submitting {
        text.push(Line::styled(super::WAITING, t.accent));
    }
    if let Some(report) = &server.host {
        text.extend(report.lines.iter().map(|line| Line::raw(line.as_str())));
    }
    super::lines(frame, below, text);
}
