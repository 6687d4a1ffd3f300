//! What the host already has, read before anything is changed: the server binaries
//! and their versions, the systemd units that run them (with the config, user and group
//! their packages set), and whether a server answers and how it is sealed. Finding
//! nothing is a finding too: a host without systemd is normal, never an error.

use std::path::{Path, PathBuf};

use crate::answers::{
    Answers, ClusterFile, DEFAULT_ENV_FILE, DEFAULT_NODE_ID, DEFAULT_STORAGE_PATH, DEFAULT_VAULT_CONFIG,
};
use crate::vault::config::{self, SEAL_FRAGMENT};
use crate::vault::server::{self, Flavour, ServerBinary};

/// The units the distribution packages install.
const KNOWN_UNITS: [&str; 2] = ["vault.service", "openbao.service"];
/// Where packages put the binaries, besides PATH.
const PACKAGED_DIRS: [&str; 4] = ["/usr/bin", "/usr/local/bin", "/opt/vault/bin", "/opt/openbao/bin"];
const BINARY_NAMES: [&str; 3] = ["vault", "bao", "openbao"];

/// A systemd unit as `systemctl show` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unit {
    pub id: String,
    pub load_state: String,
    /// The program `ExecStart` runs.
    pub program: Option<PathBuf>,
    /// Its `-config=` (a file, or a folder of them).
    pub config: Option<PathBuf>,
    pub user: Option<String>,
    pub group: Option<String>,
}

impl Unit {
    /// Parses `systemctl show -p Id,LoadState,ExecStart,User,Group` output.
    pub fn parse_show(text: &str) -> Unit {
        let mut unit = Unit::default();
        let non_empty = |v: &str| (!v.is_empty()).then(|| v.to_string());
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "Id" => unit.id = value.to_string(),
                "LoadState" => unit.load_state = value.to_string(),
                "User" => unit.user = non_empty(value),
                "Group" => unit.group = non_empty(value),
                "ExecStart" => {
                    // `{ path=/usr/bin/vault ; argv[]=/usr/bin/vault server -config=… ; … }`
                    let field = |name: &str| {
                        value
                            .split(" ; ")
                            .find_map(|f| f.trim_start_matches("{ ").strip_prefix(name))
                            .map(str::to_string)
                    };
                    unit.program = field("path=").map(PathBuf::from);
                    unit.config = field("argv[]=").and_then(|argv| config_arg(&argv));
                }
                _ => {}
            }
        }
        unit
    }

    pub fn loaded(&self) -> bool {
        self.load_state == "loaded"
    }

    /// Whether `ExecStart` runs `binary` (through symlinks either side).
    pub fn runs(&self, binary: &Path) -> bool {
        let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        self.program.as_deref().is_some_and(|p| real(p) == real(binary))
    }
}

/// The `-config` of a server command line: `-config=X`, `--config=X` or `-config X`.
pub fn config_arg(argv: &str) -> Option<PathBuf> {
    let words = shlex::split(argv).unwrap_or_else(|| argv.split_whitespace().map(String::from).collect());
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let flag = word.trim_start_matches('-');
        if !word.starts_with('-') {
            continue;
        }
        if let Some(path) = flag.strip_prefix("config=") {
            return Some(PathBuf::from(path));
        }
        if flag == "config" {
            return words.next().map(PathBuf::from);
        }
    }
    None
}

/// What systemd said, or why it could not be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Systemd {
    /// The known units and the one asked for, loaded or not.
    Running(Vec<Unit>),
    /// No systemd here (not installed, or not PID 1): a normal finding.
    Absent(String),
}

/// How a server on the configured address answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    Silent,
    Uninitialized,
    /// Initialised with Shamir keys: moving it to awskms is a seal migration.
    Shamir {
        sealed: bool,
    },
    AwsKms {
        sealed: bool,
    },
    Other {
        seal_type: String,
        sealed: bool,
    },
}

impl ServerState {
    pub fn describe(&self) -> String {
        let sealed = |s: &bool| if *s { "sealed" } else { "unsealed" };
        match self {
            ServerState::Silent => "no server answers".into(),
            ServerState::Uninitialized => "a server answers: not initialised".into(),
            ServerState::Shamir { sealed: s } => format!("a server answers: initialised, Shamir, {}", sealed(s)),
            ServerState::AwsKms { sealed: s } => format!("a server answers: initialised, awskms, {}", sealed(s)),
            ServerState::Other { seal_type, sealed: s } => {
                format!("a server answers: initialised, {seal_type}, {}", sealed(s))
            }
        }
    }
}

/// Everything found, and the unit the run will restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub binaries: Vec<ServerBinary>,
    /// The binary the answers name, when it was found.
    pub chosen: Option<ServerBinary>,
    pub systemd: Systemd,
    /// The unit that runs the server: the one asked for, else the one running the chosen
    /// binary, else the flavour's packaged unit when it exists.
    pub unit: Option<Unit>,
    /// Filled by [`Host::probe_server`]; `None` until asked.
    pub server: Option<ServerState>,
    /// The cluster file `cluster.join` names, read (or why it cannot be); `None` when
    /// the answers join no cluster.
    pub cluster_file: Option<Result<ClusterFile, String>>,
    /// The listener of the config the server reads now (the unit's, else the answers'
    /// when it is an operator's), where it has one: what the wizard starts from.
    pub listener: Option<Listener>,
    /// The storage folder of the server (the config's, else the answers') already holds
    /// data (a server's, stopped or not).
    pub storage_has_data: bool,
    /// The storage folder the config the server reads now names, if it names one.
    pub storage: Option<PathBuf>,
}

/// A config's first `listener "tcp"`: where the server answers, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The file it was read from.
    pub config: PathBuf,
    pub address: String,
    pub tls_disable: bool,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
}

impl Listener {
    /// The first `listener "tcp"` of `config` (a file, or the `.hcl` files of a folder).
    pub fn of(config: &Path) -> Option<Listener> {
        let files = if config.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(config)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "hcl"))
                .collect();
            files.sort();
            files
        } else {
            vec![config.to_path_buf()]
        };
        files.iter().find_map(|file| Listener::in_file(file))
    }

    fn in_file(file: &Path) -> Option<Listener> {
        let doc: serde_json::Value = hcl::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
        let tcp = &doc["listener"]["tcp"];
        // One listener is an object; several, an array of them.
        let first = tcp.as_array().and_then(|all| all.first()).unwrap_or(tcp);
        let address = first["address"].as_str()?.to_string();
        // `tls_disable = 1`, `true`, `"1"` or `"true"` all turn TLS off.
        let tls_disable = match &first["tls_disable"] {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::Number(n) => n.as_i64() == Some(1),
            serde_json::Value::String(s) => matches!(s.as_str(), "1" | "true"),
            _ => false,
        };
        let path = |key: &str| first[key].as_str().map(PathBuf::from);
        Some(Listener {
            config: file.to_path_buf(),
            address,
            tls_disable,
            tls_cert_file: path("tls_cert_file"),
            tls_key_file: path("tls_key_file"),
        })
    }
}

impl Host {
    /// Reads the host for these answers; changes nothing.
    pub fn discover(answers: &Answers) -> Host {
        let chosen = server::find(&answers.server.binary).ok();
        let systemd = systemd_units(answers.server.systemd_unit.as_deref());
        let unit = match &systemd {
            Systemd::Absent(_) => None,
            Systemd::Running(units) => pick_unit(units, answers.server.systemd_unit.as_deref(), chosen.as_ref()),
        };
        // The config the server reads now: the unit's, else an operator's at the answers' path.
        let config = unit.as_ref().and_then(|u| u.config.clone()).or_else(|| {
            let ours = &answers.output.vault_config;
            matches!(config::Base::of(ours), config::Base::Operator(_)).then(|| ours.clone())
        });
        // The storage that config names: where the server's data is, whatever the answers say.
        let config_storage = config.as_deref().and_then(config::kept_storage);
        Host {
            binaries: binaries(),
            chosen,
            systemd,
            unit,
            server: None,
            cluster_file: answers.cluster.join.as_deref().map(ClusterFile::load),
            listener: config.as_deref().and_then(Listener::of),
            storage_has_data: storage_holds_data(config_storage.as_deref().unwrap_or(&answers.server.storage_path)),
            storage: config_storage,
        }
    }

    /// Whether a server with data is here to be kept: one answering initialised with a
    /// Shamir seal, or (stopped) its storage folder holding data. Its seal migration is
    /// then the choice to offer.
    pub fn has_data_to_keep(&self) -> bool {
        matches!(self.server, Some(ServerState::Shamir { .. }))
            || (self.storage_has_data && matches!(self.server, Some(ServerState::Silent) | None))
    }

    /// Asks the configured address how the server there is sealed.
    pub async fn probe_server(mut self, answers: &Answers) -> Host {
        self.server = Some(server_state(answers).await);
        self
    }

    pub fn flavour(&self) -> Flavour {
        self.chosen.as_ref().map_or(Flavour::Vault, |b| b.flavour)
    }

    /// The unit a systemd launch restarts.
    pub fn unit_name(&self, answers: &Answers) -> String {
        answers
            .server
            .systemd_unit
            .clone()
            .or_else(|| self.unit.as_ref().map(|u| u.id.clone()))
            .unwrap_or_else(|| self.flavour().unit().to_string())
    }

    /// The answers with what was found in place of what the operator left unset
    /// (defaults), and a line for each value taken.
    pub fn fill(&self, answers: &Answers) -> (Answers, Vec<String>) {
        let mut a = answers.clone();
        let mut taken = Vec::new();
        let flavour = self.flavour();
        if let Some(unit) = &self.unit {
            if a.server.systemd_unit.is_none() {
                a.server.systemd_unit = Some(unit.id.clone());
                taken.push(format!("server.systemd_unit = {}", unit.id));
            }
            if a.server.user.is_none() && unit.user.is_some() {
                a.server.user = unit.user.clone();
                taken.push(format!("server.user = {}", unit.user.as_deref().unwrap_or_default()));
            }
            if a.server.group.is_none() && unit.group.is_some() {
                a.server.group = unit.group.clone();
                taken.push(format!("server.group = {}", unit.group.as_deref().unwrap_or_default()));
            }
            if let Some(unit_config) = &unit.config
                && a.output.vault_config == Path::new(DEFAULT_VAULT_CONFIG)
            {
                a.output.vault_config = if unit_config.is_dir() {
                    unit_config.join(SEAL_FRAGMENT)
                } else {
                    unit_config.clone()
                };
                if a.output.vault_config != answers.output.vault_config {
                    taken.push(format!("output.vault_config = {}", a.output.vault_config.display()));
                }
            }
            if let Some(dir) = unit.config.as_deref().and_then(config_folder)
                && a.output.env_file == Path::new(DEFAULT_ENV_FILE)
            {
                let stem = unit.id.trim_end_matches(".service");
                a.output.env_file = dir.join(format!("{stem}.env"));
                if a.output.env_file != answers.output.env_file {
                    taken.push(format!("output.env_file = {}", a.output.env_file.display()));
                }
            }
        } else {
            // No unit to follow: the flavour's package layout.
            if a.server.user.is_none() && crate::files::Owner::service_account(flavour.user(), None).is_some() {
                a.server.user = Some(flavour.user().to_string());
                taken.push(format!("server.user = {}", flavour.user()));
            }
            let (config, env) = flavour.packaged_files();
            if a.output.vault_config == Path::new(DEFAULT_VAULT_CONFIG) && config != DEFAULT_VAULT_CONFIG {
                a.output.vault_config = config.into();
                taken.push(format!("output.vault_config = {config}"));
            }
            if a.output.env_file == Path::new(DEFAULT_ENV_FILE) && env != DEFAULT_ENV_FILE {
                a.output.env_file = env.into();
                taken.push(format!("output.env_file = {env}"));
            }
        }
        if a.server.storage_path == Path::new(DEFAULT_STORAGE_PATH)
            && let Some(storage) = config::kept_storage(&a.output.vault_config)
        {
            taken.push(format!(
                "server.storage_path = {} (from the kept config)",
                storage.display()
            ));
            a.server.storage_path = storage;
        }
        // A node of a cluster keeps its raft id: its IAM user is named after it.
        if a.server.node_id == DEFAULT_NODE_ID
            && let Some(id) = config::kept_node_id(&a.output.vault_config)
            && id != DEFAULT_NODE_ID
        {
            taken.push(format!("server.node_id = {id} (from the kept config)"));
            a.server.node_id = id;
        }
        (a, taken)
    }

    /// What was found and which unset answers it fills, as the Server screen and
    /// `plan` say it. Reads the file system: never while drawing.
    pub fn report(&self, answers: &Answers) -> Vec<String> {
        let mut lines = self.summary(answers);
        let (_, taken) = self.fill(answers);
        if !taken.is_empty() {
            lines.push(format!(
                "Unset in the answers, taken from what was found: {}",
                taken.join(", ")
            ));
        }
        lines
    }

    /// A few lines: binaries, the unit, the server, the storage.
    fn summary(&self, answers: &Answers) -> Vec<String> {
        let mut lines = Vec::new();
        if self.binaries.is_empty() {
            lines.push("Binaries: none of vault, bao, openbao on PATH or at packaged paths".to_string());
        } else {
            let found: Vec<String> = self
                .binaries
                .iter()
                .map(|b| format!("{} ({})", b.path.display(), b.version_text()))
                .collect();
            lines.push(format!("Binaries: {}", found.join(", ")));
        }
        lines.push(match (&self.systemd, &self.unit) {
            (Systemd::Absent(why), _) => format!("systemd: {why}"),
            (Systemd::Running(_), None) => format!(
                "systemd: no unit runs the server (known: {}); {} not found",
                KNOWN_UNITS.join(", "),
                self.unit_name(answers)
            ),
            (Systemd::Running(_), Some(unit)) => {
                let program = unit
                    .program
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let version = self
                    .binaries
                    .iter()
                    .chain(&self.chosen)
                    .find(|b| unit.runs(&b.path))
                    .map(|b| format!(" ({})", b.version_text()))
                    .unwrap_or_default();
                let config = unit
                    .config
                    .as_deref()
                    .map_or_else(|| "no -config".to_string(), |c| c.display().to_string());
                let user = unit.user.as_deref().unwrap_or("root");
                let group = unit.group.as_deref().unwrap_or(user);
                format!(
                    "Found: {} runs {program}{version} with {config} as {user}:{group}",
                    unit.id
                )
            }
        });
        if let Some(state) = &self.server {
            lines.push(format!("At {}: {}", config::api_addr(answers), state.describe()));
        }
        if storage_holds_data(&answers.server.storage_path) {
            lines.push(format!("{} holds data", answers.server.storage_path.display()));
        }
        lines
    }
}

/// Whether the storage folder already holds files (a server's data, or someone's).
pub fn storage_holds_data(storage: &Path) -> bool {
    std::fs::read_dir(storage).is_ok_and(|mut e| e.next().is_some())
}

/// The folder a config path is in (or is).
fn config_folder(config: &Path) -> Option<PathBuf> {
    if config.is_dir() {
        Some(config.to_path_buf())
    } else {
        config.parent().map(Path::to_path_buf)
    }
}

fn pick_unit(units: &[Unit], given: Option<&str>, chosen: Option<&ServerBinary>) -> Option<Unit> {
    let loaded = || units.iter().filter(|u| u.loaded());
    if let Some(given) = given {
        return units.iter().find(|u| u.id == given).cloned();
    }
    if let Some(binary) = chosen {
        if let Some(unit) = loaded().find(|u| u.runs(&binary.path)) {
            return Some(unit.clone());
        }
        return loaded().find(|u| u.id == binary.flavour.unit()).cloned();
    }
    None
}

/// The server binaries on PATH and at packaged paths, each once.
fn binaries() -> Vec<ServerBinary> {
    let on_path = BINARY_NAMES.iter().filter_map(|n| which::which(n).ok());
    let packaged = PACKAGED_DIRS
        .iter()
        .flat_map(|d| BINARY_NAMES.iter().map(move |n| Path::new(d).join(n)))
        .filter(|p| p.is_file());
    let mut seen = Vec::new();
    let mut found = Vec::new();
    for path in on_path.chain(packaged) {
        let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if seen.contains(&real) {
            continue;
        }
        seen.push(real);
        if let Ok(binary) = server::find(&path.to_string_lossy()) {
            found.push(binary);
        }
    }
    found
}

/// The known units and `given`, or why systemd cannot be asked.
fn systemd_units(given: Option<&str>) -> Systemd {
    // sd_booted(3): systemd is PID 1 exactly when this folder exists.
    if !Path::new("/run/systemd/system").is_dir() {
        return Systemd::Absent("not running here (systemd is not PID 1)".into());
    }
    let mut units = Vec::new();
    for name in KNOWN_UNITS.iter().copied().chain(given) {
        if units.iter().any(|u: &Unit| u.id == name) {
            continue;
        }
        let out = crate::vault::launch::systemctl_probe(&["show", "-p", "Id,LoadState,ExecStart,User,Group", name]);
        match out {
            Ok(out) if out.status.success() => {
                let mut unit = Unit::parse_show(&String::from_utf8_lossy(&out.stdout));
                unit.id = name.to_string();
                units.push(unit);
            }
            Ok(out) => {
                return Systemd::Absent(format!(
                    "systemctl cannot be asked: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Err(e) => return Systemd::Absent(e.to_string()),
        }
    }
    Systemd::Running(units)
}

async fn server_state(answers: &Answers) -> ServerState {
    let Ok(client) =
        crate::vault::client::VaultClient::new(&config::api_addr(answers), answers.server.ca_cert.as_deref())
    else {
        return ServerState::Silent;
    };
    let probe = tokio::time::timeout(std::time::Duration::from_secs(3), client.seal_status());
    match probe.await {
        Ok(Ok(status)) if !status.initialized => ServerState::Uninitialized,
        Ok(Ok(status)) => match status.seal_type.as_str() {
            "shamir" => ServerState::Shamir { sealed: status.sealed },
            "awskms" => ServerState::AwsKms { sealed: status.sealed },
            other => ServerState::Other {
                seal_type: other.to_string(),
                sealed: status.sealed,
            },
        },
        _ => ServerState::Silent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = "Id=vault.service\nLoadState=loaded\nExecStart={ path=/usr/bin/vault ; \
        argv[]=/usr/bin/vault server -config=/etc/vault.d/vault.hcl ; ignore_errors=no ; start_time=[n/a] ; \
        stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\nUser=vault\nGroup=\n";

    #[test]
    fn the_listener_of_an_operators_config_is_read_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vault.hcl");
        std::fs::write(
            &config,
            "ui = true\nlistener \"tcp\" {\n  address     = \"0.0.0.0:8200\"\n  tls_disable = 1\n}\n\
             listener \"tcp\" {\n  address = \"127.0.0.1:9200\"\n}\n",
        )
        .unwrap();
        let l = Listener::of(&config).unwrap();
        assert_eq!((l.address.as_str(), l.tls_disable), ("0.0.0.0:8200", true));
        std::fs::write(
            &config,
            "listener \"tcp\" {\n  address = \"10.0.0.5:8200\"\n  tls_cert_file = \"/etc/vault.d/tls/c.pem\"\n  \
             tls_key_file = \"/etc/vault.d/tls/k.pem\"\n}\n",
        )
        .unwrap();
        let l = Listener::of(dir.path()).unwrap();
        assert!(!l.tls_disable);
        assert_eq!(l.tls_key_file.as_deref(), Some(Path::new("/etc/vault.d/tls/k.pem")));
        std::fs::write(&config, "storage \"raft\" {\n  path = \"/d\"\n}\n").unwrap();
        assert_eq!(Listener::of(&config), None);
    }

    #[test]
    fn a_packaged_unit_reads_back() {
        let unit = Unit::parse_show(SHOW);
        assert_eq!(unit.id, "vault.service");
        assert!(unit.loaded());
        assert_eq!(unit.program.as_deref(), Some(Path::new("/usr/bin/vault")));
        assert_eq!(unit.config.as_deref(), Some(Path::new("/etc/vault.d/vault.hcl")));
        assert_eq!(unit.user.as_deref(), Some("vault"));
        assert_eq!(unit.group, None);
        let missing = Unit::parse_show("Id=x.service\nLoadState=not-found\nExecStart=\nUser=\nGroup=\n");
        assert!(!missing.loaded() && missing.program.is_none() && missing.user.is_none());
    }

    #[test]
    fn every_spelling_of_config() {
        for (argv, config) in [
            (
                "/usr/bin/bao server -config=/etc/openbao/openbao.hcl",
                Some("/etc/openbao/openbao.hcl"),
            ),
            ("/usr/bin/vault server --config=/etc/vault.d/", Some("/etc/vault.d/")),
            (
                "/usr/bin/vault server -log-level=info -config /etc/v.hcl",
                Some("/etc/v.hcl"),
            ),
            ("/usr/bin/vault server -dev", None),
        ] {
            assert_eq!(config_arg(argv), config.map(PathBuf::from), "{argv}");
        }
    }

    #[test]
    fn what_is_found_fills_only_what_was_left_unset() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vault.hcl");
        std::fs::write(&config, "storage \"raft\" {\n  path = \"/srv/raft\"\n}\n").unwrap();
        let host = Host {
            binaries: vec![],
            chosen: None,
            systemd: Systemd::Running(vec![]),
            unit: Some(Unit {
                id: "vault.service".into(),
                load_state: "loaded".into(),
                program: None,
                config: Some(config.clone()),
                user: Some("vault".into()),
                group: Some("hsm".into()),
            }),
            server: None,
            cluster_file: None,
            listener: None,
            storage_has_data: false,
            storage: None,
        };
        let (a, taken) = host.fill(&Answers::default());
        assert_eq!(a.server.systemd_unit.as_deref(), Some("vault.service"));
        assert_eq!(
            (a.server.user.as_deref(), a.server.group.as_deref()),
            (Some("vault"), Some("hsm"))
        );
        assert_eq!(a.output.vault_config, config);
        assert_eq!(a.output.env_file, dir.path().join("vault.env"));
        assert_eq!(a.server.storage_path, Path::new("/srv/raft"));
        assert_eq!(taken.len(), 6, "{taken:?}");
        // What the operator set stays theirs.
        let mut set = Answers::default();
        set.server.systemd_unit = Some("my-vault.service".into());
        set.server.user = Some("ops".into());
        set.output.env_file = "/root/vault.env".into();
        let (a, _) = host.fill(&set);
        assert_eq!(a.server.systemd_unit.as_deref(), Some("my-vault.service"));
        assert_eq!(a.server.user.as_deref(), Some("ops"));
        assert_eq!(a.output.env_file, Path::new("/root/vault.env"));
    }

    #[test]
    fn without_a_unit_the_flavours_package_layout_is_followed() {
        let host = |flavour| Host {
            binaries: vec![],
            chosen: Some(ServerBinary {
                path: "/usr/bin/bao".into(),
                flavour,
                version: (2, 6, 2),
            }),
            systemd: Systemd::Absent("not running here".into()),
            unit: None,
            server: None,
            cluster_file: None,
            listener: None,
            storage_has_data: false,
            storage: None,
        };
        let (a, _) = host(Flavour::OpenBao).fill(&Answers::default());
        assert_eq!(a.output.vault_config, Path::new("/etc/openbao/openbao.hcl"));
        assert_eq!(a.output.env_file, Path::new("/etc/openbao/openbao.env"));
        let (a, taken) = host(Flavour::Vault).fill(&Answers::default());
        assert_eq!(a.output.vault_config, Path::new(DEFAULT_VAULT_CONFIG));
        assert!(!taken.iter().any(|t| t.starts_with("output.")), "{taken:?}");
    }

    #[test]
    fn the_unit_running_the_binary_wins_over_the_flavours() {
        let dir = tempfile::tempdir().unwrap();
        let bao = dir.path().join("bao");
        std::fs::write(&bao, "").unwrap();
        let vault = dir.path().join("vault");
        std::os::unix::fs::symlink(&bao, &vault).unwrap();
        let unit = |id: &str, program: &Path| Unit {
            id: id.into(),
            load_state: "loaded".into(),
            program: Some(program.to_path_buf()),
            ..Default::default()
        };
        // A binary named `vault` that is OpenBao inside: its flavour's unit is openbao.service.
        let chosen = ServerBinary {
            path: vault.clone(),
            flavour: Flavour::OpenBao,
            version: (2, 6, 2),
        };
        let units = [
            unit("vault.service", &bao),
            unit("openbao.service", Path::new("/elsewhere")),
        ];
        assert_eq!(pick_unit(&units, None, Some(&chosen)).unwrap().id, "vault.service");
        assert_eq!(
            pick_unit(&units[1..], None, Some(&chosen)).unwrap().id,
            "openbao.service"
        );
        assert_eq!(
            pick_unit(&units, Some("openbao.service"), Some(&chosen)).unwrap().id,
            "openbao.service"
        );
        assert_eq!(pick_unit(&units[..1], Some("other.service"), Some(&chosen)), None);
    }
}
