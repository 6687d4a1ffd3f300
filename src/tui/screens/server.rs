//! Server: which binary, how to start it, where it listens and stores, TLS.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Ctx, Nav, Outcome, Screen};
use crate::answers::{Answers, ClusterFile, ExistingServer, Launch, validate_cluster, validate_listen, validate_tls};
use crate::questions::{LAYOUTS, Q};
use crate::tui::by_hand;
use crate::tui::form::{self, Form, FormScreen};
use crate::tui::keys::{Binding, ENTER, always, back};
use crate::tui::msg::Command;
pub use crate::tui::msg::HostReport;
use crate::vault::VaultError;
use crate::vault::discover::{Host, Listener};
use crate::vault::server::ServerBinary;

pub const WHY: &str = "Vault or OpenBao (2.7 and later with its awskms KMS plugin), started by systemd, by \
autounseal in the background, or by you; raft storage.";

/// The server binary named so, looked for and its version read (in the background).
pub struct BinaryProbe {
    pub named: String,
    pub found: Result<ServerBinary, VaultError>,
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
    /// The fields were filled from the listener of the config the server reads.
    listener_taken: bool,
    /// The binary field was filled with one the host has (once).
    binary_proposed: bool,
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
            form::text(Q::Binary, &a.server.binary),
            form::text(Q::KmsPlugin, &path(&a.server.kms_plugin)),
            form::text(Q::KmsPluginSha256, a.server.kms_plugin_sha256.as_deref().unwrap_or("")),
            form::choice(Q::Launch, launch),
            form::choice(
                Q::Layout,
                match &a.cluster.join {
                    Some(_) => LAYOUTS.len(),
                    None => LAYOUTS.iter().position(|(_, n)| *n == a.cluster.nodes).unwrap_or(0),
                },
            ),
            form::text(Q::ClusterFile, &path(&a.cluster.join)),
            form::choice(Q::Existing, usize::from(a.server.existing == ExistingServer::Migrate)),
            form::text(Q::Listen, &a.server.listen),
            form::text(Q::Storage, &a.server.storage_path.to_string_lossy()),
            form::toggle(Q::PlainHttp, a.server.tls_disable),
            form::text(Q::TlsCert, &path(&a.server.tls_cert_file)),
            form::text(Q::TlsKey, &path(&a.server.tls_key_file)),
        ]);
        show_tls(&mut form);
        show_layout(&mut form);
        form.set_hidden(Q::Existing, a.server.existing != ExistingServer::Migrate);
        form.set_hidden(Q::KmsPlugin, a.server.kms_plugin.is_none());
        form.set_hidden(Q::KmsPluginSha256, a.server.kms_plugin.is_none());
        Server {
            form,
            probe: None,
            host: None,
            host_asked: None,
            asked: None,
            strict: false,
            submitting: false,
            listener_taken: false,
            binary_proposed: false,
        }
    }
}

fn joining(form: &Form) -> bool {
    form.choice_index(Q::Layout) == LAYOUTS.len()
}

fn show_layout(form: &mut Form) {
    let join = joining(form);
    form.set_hidden(Q::ClusterFile, !join);
    let nodes = LAYOUTS.get(form.choice_index(Q::Layout)).map_or(1, |l| l.1);
    form.field_mut(Q::Layout).note = if join {
        Some(
            "this host: one more node of an existing cluster; its key, region and policy come from its file"
                .to_string(),
        )
    } else {
        (nodes > 1)
            .then(|| format!("a cluster of {nodes} raft nodes on this machine, in the background, API ports 10 apart"))
    };
}

/// Whether discovery asked about the same server and files: what it looks at
/// (`Host::discover`, `probe_server`, `fill`). Answers it does not read, such as init,
/// change nothing of what it found: a report stays the answer, and is not asked again.
fn same_discovery(a: &Answers, b: &Answers) -> bool {
    let key = |x: &Answers| {
        (
            x.server.binary.clone(),
            x.server.listen.clone(),
            x.server.tls_disable,
            x.server.ca_cert.clone(),
            x.server.storage_path.clone(),
            x.server.systemd_unit.clone(),
            x.output.vault_config.clone(),
            x.output.env_file.clone(),
            x.cluster.join.clone(),
        )
    };
    key(a) == key(b)
}

/// The cluster file field's value as a path, when this host joins and one is typed.
fn join_path(form: &Form) -> Option<std::path::PathBuf> {
    let typed = form.value(Q::ClusterFile);
    (joining(form) && !typed.trim().is_empty()).then(|| typed.trim().into())
}

fn show_tls(form: &mut Form) {
    let plain = form.is_on(Q::PlainHttp);
    form.set_hidden(Q::TlsCert, plain);
    form.set_hidden(Q::TlsKey, plain);
    let exposed = crate::answers::parse_listen(form.value(Q::Listen).trim()).is_some_and(|a| !a.ip().is_loopback());
    form.field_mut(Q::PlainHttp).note = plain.then(|| {
        if exposed {
            "WARNING: plain HTTP beyond this machine; tokens cross the network in clear".to_string()
        } else {
            "only for a listener on 127.0.0.1 or a test".to_string()
        }
    });
}

impl Server {
    fn launch(&self) -> Launch {
        Launch::ALL[self.form.choice_index(Q::Launch)]
    }

    /// The binary's field as typed (the probe trims it, as `store` does).
    fn named(&self) -> String {
        self.form.value(Q::Binary)
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
        a.server.listen = self.form.value(Q::Listen).trim().into();
        // The server is asked over HTTP or HTTPS as the screen says (a config's listener
        // with `tls_disable = 1` answers on plain HTTP only).
        a.server.tls_disable = self.form.is_on(Q::PlainHttp);
        a.server.storage_path = self.form.value(Q::Storage).trim().into();
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
        let typed = self.form.value(Q::ClusterFile);
        self.form.probed(&[Q::ClusterFile], &typed, problem, note);
    }

    /// Asks what the host has for the answers as they are now, unless that was asked.
    fn discover_host(&mut self, ctx: &Ctx) -> Vec<Command> {
        let asking = self.asking(ctx);
        // The server is asked at the listener's address: only a valid one.
        if self
            .host_asked
            .as_ref()
            .is_some_and(|asked| same_discovery(asked, &asking))
            || validate_listen(&asking.server.listen).is_err()
        {
            return vec![];
        }
        self.host_asked = Some(asking.clone());
        vec![Command::DiscoverHost(Box::new(asking))]
    }

    pub fn on_host(&mut self, ctx: &mut Ctx, report: HostReport) -> Outcome {
        // An answer about a binary, address, folder or cluster file since changed is dropped.
        if !same_discovery(&report.asked, &self.asking(ctx)) {
            return Outcome::stay();
        }
        // The binary named is not here but the host has one (an OpenBao-only host and the
        // default `vault`): proposed, while the operator has not typed another.
        if let Some(found) = self.binary_to_propose(ctx, &report.host) {
            self.binary_proposed = true;
            self.form.set_text(Q::Binary, &found);
            self.form.field_mut(Q::Binary).note = Some("found on this host".to_string());
            self.host = Some(report);
            let mut commands = self.probe_binary();
            commands.extend(self.discover_host(ctx));
            return Outcome::run(commands);
        }
        // The config's listener, once, while the operator has not changed these fields:
        // the server is asked again where (and how) it really answers.
        if let Some(listener) = report.host.listener.clone().filter(|_| self.listener_untouched(ctx)) {
            self.listener_taken = true;
            self.take_listener(&listener);
            // Its data is where that config keeps it.
            if let Some(storage) = &report.host.storage
                && self.form.value(Q::Storage).trim() == ctx.answers.server.storage_path.to_string_lossy()
            {
                self.form.set_text(Q::Storage, &storage.to_string_lossy());
                self.form.field_mut(Q::Storage).note = Some(format!("from {}", listener.config.display()));
            }
            // Asked again only when that changed where or how: otherwise this report is
            // the answer, and a submit waiting for it goes on below.
            if !same_discovery(&report.asked, &self.asking(ctx)) {
                self.host = Some(report);
                return Outcome::run(self.discover_host(ctx));
            }
        }
        let shamir = report.host.has_data_to_keep();
        self.host = Some(report);
        self.show_existing(ctx, shamir);
        self.show_cluster_file(ctx);
        if self.submitting && self.join_checked() {
            return self.submit(ctx, ENTER.event());
        }
        Outcome::stay()
    }

    /// The path of a server binary the host has, when the one named is not found and
    /// the field still holds the answers' value; one with awskms built in first.
    fn binary_to_propose(&self, ctx: &Ctx, host: &Host) -> Option<String> {
        let untouched = self.named().trim() == ctx.answers.server.binary;
        if !untouched || host.chosen.is_some() || self.binary_proposed {
            return None;
        }
        let best = host
            .binaries
            .iter()
            .find(|b| b.has_builtin_awskms())
            .or(host.binaries.first())?;
        Some(best.path.to_string_lossy().into_owned())
    }

    /// The listen and TLS fields are as the screen opened with them.
    fn listener_untouched(&self, ctx: &Ctx) -> bool {
        let s = &ctx.answers.server;
        !self.listener_taken
            && self.form.value(Q::Listen).trim() == s.listen
            && self.form.is_on(Q::PlainHttp) == s.tls_disable
    }

    /// The fields from the listener of the config the server reads now.
    fn take_listener(&mut self, listener: &Listener) {
        self.form.set_text(Q::Listen, &listener.address);
        self.form.set_on(Q::PlainHttp, listener.tls_disable);
        let path = |p: &Option<std::path::PathBuf>| p.as_deref().map(|p| p.to_string_lossy().into_owned());
        if let Some(cert) = path(&listener.tls_cert_file) {
            self.form.set_text(Q::TlsCert, &cert);
        }
        if let Some(key) = path(&listener.tls_key_file) {
            self.form.set_text(Q::TlsKey, &key);
        }
        show_tls(&mut self.form);
        self.form.field_mut(Q::Listen).note = Some(format!(
            "from {}, the config the server reads now",
            listener.config.display()
        ));
    }

    /// The choice of what to do with a Shamir server's data: shown when one answers, or
    /// its storage holds data (or the answers already chose its migration).
    fn show_existing(&mut self, ctx: &Ctx, shamir: bool) {
        let asked = shamir || ctx.answers.server.existing == ExistingServer::Migrate;
        // Asked for the first time: the migration is proposed, as a new setup is refused.
        if asked && self.form.field(Q::Existing).hidden {
            self.form.set_choice(Q::Existing, 1);
        }
        self.form.set_hidden(Q::Existing, !asked);
        self.form.field_mut(Q::Existing).note = if !asked {
            None
        } else if self.form.choice_index(Q::Existing) == 1 {
            Some(
                "the seal stanza is added and the server restarted; after Review you type its unseal keys once, \
                 and they become its recovery keys. The data stays."
                    .to_string(),
            )
        } else {
            Some(
                "a server with data is here: a new setup is refused; choose the migration to keep its data".to_string(),
            )
        };
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
        let needs_plugin = probe.found.as_ref().is_ok_and(|b| !b.has_builtin_awskms());
        let (problem, note) = match &probe.found {
            Ok(b) if b.has_builtin_awskms() => (
                None,
                Some(format!("found {} at {}", b.version_text(), b.path.display())),
            ),
            Ok(b) => (
                None,
                Some(format!(
                    "found {} at {}: its awskms seal is a KMS plugin, asked below",
                    b.version_text(),
                    b.path.display()
                )),
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
        self.form.probed(&[Q::Binary], &named, problem, note);
        self.form.set_hidden(Q::KmsPlugin, !needs_plugin);
        self.form.set_hidden(Q::KmsPluginSha256, !needs_plugin);
        self.form.field_mut(Q::KmsPlugin).note = needs_plugin.then(|| {
            format!(
                "openbao-plugin-kms-aws for linux, from {}",
                crate::vault::plugin::RELEASES.trim_start_matches("https://")
            )
        });
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
        s.listen = f.value(Q::Listen).trim().into();
        s.storage_path = f.value(Q::Storage).trim().into();
        s.tls_disable = f.is_on(Q::PlainHttp);
        let path = |id: Q| {
            Some(f.value(id).trim().to_string())
                .filter(|v| !v.is_empty())
                .map(Into::into)
        };
        s.tls_cert_file = path(Q::TlsCert);
        s.tls_key_file = path(Q::TlsKey);
        // Asked only of a server without a built-in awskms; an OCI image may stand for it.
        s.kms_plugin = if f.field(Q::KmsPlugin).hidden {
            None
        } else {
            path(Q::KmsPlugin)
        };
        // Compared with the file before AWS (the plan Review shows), not while typing.
        if !f.field(Q::KmsPluginSha256).hidden {
            s.kms_plugin_sha256 = Some(f.value(Q::KmsPluginSha256).trim().to_string()).filter(|v| !v.is_empty());
        } else if s.kms_plugin_image.is_none() {
            s.kms_plugin_sha256 = None;
        }
        let plugin_problem = match (&s.kms_plugin, &s.kms_plugin_image) {
            (Some(file), _) => crate::vault::plugin::check_executable(file).err(),
            (None, None) if !f.field(Q::KmsPlugin).hidden => Some(
                "this server runs its awskms seal as a plugin: give the openbao-plugin-kms-aws binary you downloaded"
                    .to_string(),
            ),
            _ => None,
        };
        if let Some(problem) = plugin_problem {
            self.form.field_mut(Q::KmsPlugin).error = Some(problem);
            self.form.focus_on(Q::KmsPlugin);
            return false;
        }
        let asked = !f.field(Q::Existing).hidden;
        s.existing = if asked && f.choice_index(Q::Existing) == 1 {
            ExistingServer::Migrate
        } else {
            ExistingServer::New
        };
        // A server with data answers: a new setup would be refused at Review; said here.
        let shamir = self
            .host
            .as_ref()
            .is_some_and(|r| matches!(r.host.server, Some(crate::vault::discover::ServerState::Shamir { .. })));
        if asked && shamir && s.existing == ExistingServer::New {
            self.form.field_mut(Q::Existing).error = Some(
                "this server holds data under a Shamir seal: a new setup is refused. Choose its seal migration \
                 to keep the data"
                    .to_string(),
            );
            self.form.focus_on(Q::Existing);
            return false;
        }
        // autounseal initialises only a server it starts.
        ctx.answers.init.enabled = s.launch != Launch::None;
        ctx.answers.cluster.nodes = LAYOUTS.get(f.choice_index(Q::Layout)).map_or(1, |l| l.1);
        if ctx.answers.cluster.join.take().is_some() {
            // The peers were the cluster file's nodes.
            ctx.answers.cluster.peers.clear();
        }
        // A node of a Shamir cluster moves with the cluster file ("join a cluster"): the
        // key a node migrated before it made. A local cluster is set up new.
        if ctx.answers.server.existing == ExistingServer::Migrate && ctx.answers.cluster.nodes > 1 {
            self.form.field_mut(Q::Layout).error = Some(
                "a seal migration moves the server that is here: choose single server, or join a cluster \
                 (the cluster file of a node migrated before this one)"
                    .to_string(),
            );
            return false;
        }
        if let Err(e) = validate_cluster(&ctx.answers.cluster, ctx.answers.server.launch) {
            self.form.field_mut(Q::Layout).error = Some(e);
            return false;
        }
        if let Err(e) = validate_tls(&ctx.answers.server) {
            self.form.field_mut(Q::TlsCert).error = Some(e);
            return false;
        }
        self.take_what_was_found(ctx);
        if let Some(Ok(file)) = self.cluster_file().cloned() {
            return self.store_join(ctx, &file);
        }
        true
    }

    /// What discovery found for what was left unset, as the run will take it: the
    /// answers Review shows are then the files and unit the run really uses.
    fn take_what_was_found(&self, ctx: &mut Ctx) {
        let Some(report) = self
            .host
            .as_ref()
            .filter(|r| same_discovery(&r.asked, &self.asking(ctx)))
        else {
            return;
        };
        let (filled, asked) = (&report.filled, &report.asked);
        let (o, s) = (&mut ctx.answers.output, &mut ctx.answers.server);
        if o.vault_config == asked.output.vault_config {
            o.vault_config = filled.output.vault_config.clone();
        }
        if o.env_file == asked.output.env_file {
            o.env_file = filled.output.env_file.clone();
        }
        s.systemd_unit = s.systemd_unit.take().or_else(|| filled.server.systemd_unit.clone());
        s.user = s.user.take().or_else(|| filled.server.user.clone());
        s.group = s.group.take().or_else(|| filled.server.group.clone());
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
                    Q::Listen
                } else {
                    Q::ClusterFile
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

    fn changed(&mut self, ctx: &mut Ctx, id: Q) -> Outcome {
        match id {
            Q::Listen => show_tls(&mut self.form),
            Q::PlainHttp => {
                show_tls(&mut self.form);
                return Outcome::run(self.discover_host(ctx));
            }
            Q::Launch => self.show_probe(),
            Q::Existing => {
                let shown = !self.form.field(Q::Existing).hidden;
                self.show_existing(ctx, shown);
            }
            Q::Layout => {
                show_layout(&mut self.form);
                return Outcome::run(self.discover_host(ctx));
            }
            _ => {}
        }
        Outcome::stay()
    }

    /// The binary is probed, and the host looked at again, once the operator leaves a
    /// field they depend on, not on every keystroke.
    fn left(&mut self, ctx: &mut Ctx, from: Q) -> Outcome {
        let mut commands = if from == Q::Binary { self.probe_binary() } else { vec![] };
        if matches!(from, Q::Binary | Q::Listen | Q::Storage | Q::ClusterFile) {
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
        self.form.field_mut(Q::Binary).probe = None;
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

    fn commands(&self, ctx: &Ctx) -> Vec<String> {
        let a = &ctx.answers;
        let flavour = by_hand::flavour(ctx);
        let mut out = Vec::new();
        // OpenBao 2.7 and later: the plugin copied in first, declared with its checksum.
        // The answers' folder, as drawn without reading files (a run takes the one a kept
        // config names, if it names one).
        let plugin = a.server.kms_plugin.as_ref().map(|source| {
            let (directory, write_directory) = crate::vault::plugin::directory(a, None);
            crate::vault::plugin::KmsPlugin {
                source: source.clone(),
                directory,
                write_directory,
                sha256: format!("<sha256sum {}>", source.display()),
            }
        });
        if let Some(p) = &plugin {
            out.push(format!(
                "install -D -m 0755 -o root -g root {} {}",
                p.source.display(),
                p.installed().display()
            ));
        }
        out.push(format!("# {}", a.output.vault_config.display()));
        out.extend(
            crate::vault::config::render(a, &super::iam::key_arn(ctx), flavour, plugin.as_ref())
                .lines()
                .skip(1)
                .map(String::from),
        );
        match a.server.launch {
            Launch::Systemd => {
                out.push(format!("# /etc/systemd/system/{}.d/autounseal.conf", flavour.unit()));
                out.extend(
                    crate::vault::config::systemd_drop_in(&a.output.env_file)
                        .lines()
                        .skip(1)
                        .map(String::from),
                );
            }
            _ => out.push(format!(
                "set -a; . {}; set +a; {} server -config={}",
                a.output.env_file.display(),
                flavour.cli(),
                a.output.vault_config.display()
            )),
        }
        out
    }
}

fn view(server: &Server, frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let t = &ctx.theme;
    let rest = super::why(frame, area, WHY, t);
    let below = server.form.render_on_top(frame, rest, t);
    let hint = match server.form.choice_index(Q::Launch) {
        0 => "systemd: a drop-in with EnvironmentFile=, then a restart of the unit.",
        1 => "background: autounseal starts it; log and pid go to its state folder.",
        _ => "none: autounseal writes the files and shows the command; no init.",
    };
    // What the host has comes first: at 80x24 the room below the form is short.
    let mut text = Vec::new();
    if server.submitting {
        text.push(Line::styled(super::WAITING, t.accent));
    }
    if let Some(report) = &server.host {
        text.extend(report.lines.iter().map(|line| Line::raw(line.as_str())));
    }
    text.push(Line::styled(hint, t.dim));
    super::lines(frame, below, text);
}
