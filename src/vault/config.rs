//! Vault's config file, generated with a real HCL library (values are escaped and the
//! file parses back), and the systemd drop-in that loads the env file. An operator's
//! existing config is kept byte for byte but for its `seal "awskms"` stanza.

use std::path::{Path, PathBuf};

use hcl::edit::Span;
use hcl::{Block, Body};

use crate::answers::Answers;
use crate::vault::plugin::KmsPlugin;
use crate::vault::server::Flavour;

/// The first words of every config autounseal writes.
const WRITTEN_BY: &str = "# Written by autounseal.";

/// The address clients use: a wildcard listener is reached on loopback.
pub fn client_host(listen: &str) -> (String, u16) {
    let addr = crate::answers::parse_listen(listen).expect("listen was validated");
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        match addr.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    };
    (host, addr.port())
}

pub fn scheme(answers: &Answers) -> &'static str {
    if answers.server.tls_disable { "http" } else { "https" }
}

/// `http(s)://host:port` of the server's API.
pub fn api_addr(answers: &Answers) -> String {
    let (host, port) = client_host(&answers.server.listen);
    format!("{}://{host}:{port}", scheme(answers))
}

/// The `api_addr` a config file names, for a server autounseal did not start (launch
/// `none`), whose address the manifest does not record.
pub fn api_addr_in(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    let doc: serde_json::Value = hcl::from_str(&text).ok()?;
    doc["api_addr"].as_str().map(str::to_string)
}

/// The cluster port is the API port plus one, as Vault's own examples use.
fn cluster_addr(answers: &Answers) -> String {
    let (host, port) = client_host(&answers.server.listen);
    format!("https://{host}:{}", port + 1)
}

/// The file name of the seal stanza written into a config folder (`-config=/etc/vault.d/`),
/// beside the operator's own files.
pub const SEAL_FRAGMENT: &str = "autounseal-seal.hcl";

/// What the server is started with: the config file, or for a seal stanza of its own
/// the folder that holds it with the operator's files.
pub fn server_reads(config: &Path) -> PathBuf {
    match config.parent() {
        Some(folder) if config.file_name().is_some_and(|n| n == SEAL_FRAGMENT) => folder.to_path_buf(),
        _ => config.to_path_buf(),
    }
}

/// What a config path holds before autounseal writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// Nothing yet, or a file autounseal wrote: the whole config is rendered.
    Ours,
    /// The operator's config: kept, only its seal stanza is added or replaced.
    Operator(String),
    /// A file of its own in a config folder: the seal stanza alone.
    Fragment,
}

impl Base {
    pub fn of(path: &Path) -> Base {
        if path.file_name().is_some_and(|n| n == SEAL_FRAGMENT) {
            return Base::Fragment;
        }
        match std::fs::read_to_string(path) {
            Ok(text) if !text.starts_with(WRITTEN_BY) => Base::Operator(text),
            _ => Base::Ours,
        }
    }
}

/// The config file as it is and as it will be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigText {
    pub old: Option<String>,
    pub new: String,
    pub kind: Written,
}

/// What autounseal writes at the config path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A whole config of its own.
    Whole,
    /// The operator's config with its seal stanza added or replaced.
    Kept,
    /// The seal stanza alone, beside the operator's files in a config folder.
    Stanza,
}

impl ConfigText {
    /// The change as a unified diff (`--- old`, `+++ new`), for Review and `plan`.
    pub fn diff(&self, path: &Path) -> String {
        let old = self.old.as_deref().unwrap_or("");
        let shown = path.display().to_string();
        similar::TextDiff::from_lines(old, &self.new)
            .unified_diff()
            .context_radius(2)
            .header(&format!("{shown} (now)"), &format!("{shown} (after apply)"))
            .to_string()
    }

    /// The change's detail: a line, then the diff when a file is changed (a new one
    /// is shown whole by F2, not as a diff).
    pub fn detail(&self, path: &Path) -> String {
        match &self.old {
            Some(_) => format!("{}\n{}", self.summary(path), self.diff(path)),
            None => self.summary(path),
        }
    }

    /// What a kept config's raft timing is (`; raft's …`), or nothing: new configs get
    /// `performance_multiplier = 1`; an operator's own timing is theirs, kept, and said so.
    pub fn kept_timing(&self) -> String {
        if self.kind != Written::Kept {
            return String::new();
        }
        match raft_multiplier(&self.new) {
            Some(Some(n)) => format!("; raft's performance_multiplier = {n}, yours, kept"),
            Some(None) => "; raft's timing kept at its default (performance_multiplier 5): 1 elects a leader about \
                           five times faster"
                .to_string(),
            None => String::new(),
        }
    }

    /// One line for the change's detail.
    pub fn summary(&self, path: &Path) -> String {
        let what = match self.kind {
            Written::Whole => "seal \"awskms\", raft storage".to_string(),
            Written::Kept => format!("kept; seal \"awskms\" added, the rest as it was{}", self.kept_timing()),
            Written::Stanza => "seal \"awskms\" alone, beside the config files".to_string(),
        };
        format!("{} ({what})", path.display())
    }
}

/// A config's raft storage timing: None without raft storage, then the
/// `performance_multiplier` it sets, if it does.
pub fn raft_multiplier(text: &str) -> Option<Option<i64>> {
    let parsed: serde_json::Value = hcl::from_str(text).ok()?;
    let raft = parsed.get("storage")?.get("raft")?;
    Some(
        raft.get("performance_multiplier")
            .and_then(|m| m.as_i64().or_else(|| m.as_str().and_then(|s| s.trim().parse().ok()))),
    )
}

/// The config autounseal writes at `answers.output.vault_config`: a whole new one, the
/// operator's own with the awskms seal in it, or the seal stanza alone in a config folder.
/// Refused when the kept config (or a file beside the stanza) has another seal. With
/// `plugin` (OpenBao 2.7 and later), the seal's KMS plugin is declared before it.
pub fn plan(
    answers: &Answers,
    kms_key_id: &str,
    flavour: Flavour,
    plugin: Option<&KmsPlugin>,
) -> Result<ConfigText, String> {
    let path = &answers.output.vault_config;
    let old = std::fs::read_to_string(path).ok();
    let (new, kind) = match Base::of(path) {
        Base::Ours => (render(answers, kms_key_id, flavour, plugin), Written::Whole),
        Base::Operator(text) => (
            keep_with_seal(&text, path, &seal_text(answers, kms_key_id, plugin), flavour)?,
            Written::Kept,
        ),
        Base::Fragment => {
            for sibling in sibling_configs(path) {
                let text = std::fs::read_to_string(&sibling).unwrap_or_default();
                if let Some(seal) = seals(&text, &sibling)?.first() {
                    return Err(seal_clash(&sibling, seal, path));
                }
                // A second declaration of the awskms plugin would leave the choice to the merge.
                if plugin.is_some() && declares_awskms_plugin(&text) {
                    return Err(format!(
                        "{} already declares plugin \"kms\" \"awskms\", and a server reads it with {}: remove it \
                         there (autounseal declares the plugin it installs), then run again",
                        sibling.display(),
                        path.display()
                    ));
                }
            }
            let stanza = format!(
                "{WRITTEN_BY} The seal stanza; the rest of the config is in the files beside it.\n{}",
                seal_text(answers, kms_key_id, plugin)
            );
            (stanza, Written::Stanza)
        }
    };
    Ok(ConfigText { old, new, kind })
}

/// The other config files a server given a folder reads with this one.
fn sibling_configs(path: &Path) -> Vec<PathBuf> {
    let Some(dir) = path.parent() else { return Vec::new() };
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != path && p.extension().is_some_and(|e| e == "hcl" || e == "json") && p.is_file())
        .collect();
    found.sort();
    found
}

fn seal_clash(file: &Path, seal: &str, ours: &Path) -> String {
    format!(
        "{} already has a seal \"{seal}\" stanza, and a server reads it with {}: remove it there (or migrate \
         away from that seal first), then run again",
        file.display(),
        ours.display()
    )
}

/// The seal stanza alone (after its plugin's declaration, when it has one), then the
/// recovery stanzas of the key's replicas (comments).
fn seal_text(answers: &Answers, kms_key_id: &str, plugin: Option<&KmsPlugin>) -> String {
    let seal = hcl::to_string(&Body::builder().add_block(seal_block(answers, kms_key_id)).build())
        .expect("an HCL body always formats");
    plugin.map(plugin_text).unwrap_or_default() + &seal + &recovery_stanzas(answers, kms_key_id)
}

/// The line that starts the plugin's declaration: the way back and a re-run cut it,
/// with the block and the `plugin_directory` autounseal wrote (see `awskms_stanzas`).
const PLUGIN_MARKER: &str = "# autounseal: OpenBao's awskms seal is a KMS plugin";

/// The plugin's folder (unless the config names it already) and its `plugin "kms"
/// "awskms"` block: the command in that folder and the SHA-256 the server checks.
fn plugin_text(plugin: &KmsPlugin) -> String {
    let mut body = Body::builder();
    if plugin.write_directory {
        body = body.add_attribute(("plugin_directory", plugin.directory.to_string_lossy().into_owned()));
    }
    let block = Block::builder("plugin")
        .add_label("kms")
        .add_label("awskms")
        .add_attribute(("command", plugin.file_name()))
        .add_attribute(("sha256sum", plugin.sha256.clone()))
        .build();
    let text = hcl::to_string(&body.add_block(block).build()).expect("an HCL body always formats");
    format!("{PLUGIN_MARKER} from 2.7 on; the server checks its SHA-256 before it runs it.\n{text}\n")
}

/// The `plugin_directory` the operator's kept config names (in the file, or for a seal
/// stanza of its own in the files beside it): the plugin goes there.
pub fn kept_plugin_directory(config: &Path) -> Option<PathBuf> {
    from_kept(config, |text| {
        // Read without what autounseal wrote there itself.
        let parsed: serde_json::Value = hcl::from_str(&without_awskms(text).ok()?).ok()?;
        parsed["plugin_directory"].as_str().map(PathBuf::from)
    })
}

/// Whether a config text declares `plugin "kms" "awskms"`.
fn declares_awskms_plugin(text: &str) -> bool {
    hcl::from_str::<serde_json::Value>(text).is_ok_and(|parsed| !plugin_blocks(&parsed).is_empty())
}

/// The awskms KMS plugin a config declares: the file (its folder and `command`) and
/// the SHA-256 the server checks it against; what doctor and the drill check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredPlugin {
    pub path: PathBuf,
    pub sha256: String,
}

/// The plugin the config (with the files beside a stanza of its own) declares.
pub fn declared_plugin(config: &Path) -> Option<DeclaredPlugin> {
    let mut texts = vec![std::fs::read_to_string(config).ok()?];
    if Base::of(config) == Base::Fragment {
        texts.extend(
            sibling_configs(config)
                .iter()
                .filter_map(|f| std::fs::read_to_string(f).ok()),
        );
    }
    let parsed: Vec<serde_json::Value> = texts.iter().filter_map(|t| hcl::from_str(t).ok()).collect();
    let folder = parsed
        .iter()
        .find_map(|p| p["plugin_directory"].as_str().map(PathBuf::from))?;
    let (command, sha256) = parsed
        .iter()
        .flat_map(plugin_blocks)
        .find_map(|b| Some((b["command"].as_str()?, b["sha256sum"].as_str()?.to_string())))?;
    Some(DeclaredPlugin {
        path: folder.join(command),
        sha256,
    })
}

/// The `plugin "kms" "awskms"` blocks of a parsed config (one, or a list when repeated).
fn plugin_blocks(parsed: &serde_json::Value) -> Vec<&serde_json::Value> {
    match &parsed["plugin"]["kms"]["awskms"] {
        serde_json::Value::Array(all) => all.iter().collect(),
        serde_json::Value::Object(_) => vec![&parsed["plugin"]["kms"]["awskms"]],
        _ => Vec::new(),
    }
}

/// How each recovery comment starts: the way back and a re-run cut it with the stanza.
const RECOVERY_MARKER: &str = "# autounseal: a recovery host in ";

/// For each replica region, as a comment, the seal stanza a recovery host there would
/// use (the replica's ARN, that region): never a second active seal.
fn recovery_stanzas(answers: &Answers, kms_key_id: &str) -> String {
    let mut out = String::new();
    for region in &answers.kms.replica_regions {
        let mut there = answers.clone();
        there.region = region.clone();
        let stanza = hcl::to_string(
            &Body::builder()
                .add_block(seal_block(&there, &crate::regions::replica_arn(kms_key_id, region)))
                .build(),
        )
        .expect("an HCL body always formats");
        out.push_str(&format!(
            "\n{RECOVERY_MARKER}{region} (the key's replica there) uses this seal instead:\n"
        ));
        for line in stanza.lines() {
            out.push_str(&format!("# {line}\n"));
        }
    }
    out
}

/// `seal "awskms"` with its region, key and (an emulator's, a VPC's) endpoint.
fn awskms_block(region: &str, kms_key_id: &str, endpoint: Option<&str>) -> hcl::structure::BlockBuilder {
    let seal = Block::builder("seal")
        .add_label("awskms")
        .add_attribute(("region", region.to_string()))
        .add_attribute(("kms_key_id", kms_key_id.to_string()));
    match endpoint {
        Some(endpoint) => seal.add_attribute(("endpoint", endpoint.to_string())),
        None => seal,
    }
}

fn seal_block(answers: &Answers, kms_key_id: &str) -> Block {
    let mut seal = awskms_block(&answers.region, kms_key_id, answers.endpoint_url.as_deref());
    // The `shared-file` style: where the key is (a path and a name, no secret). Named
    // here rather than in the environment, where Vault's AWS engines would follow it.
    if let Some(shared) = answers.output.key_files().shared {
        seal = seal
            .add_attribute(("shared_creds_filename", shared.path.to_string_lossy().into_owned()))
            .add_attribute(("shared_creds_profile", shared.profile));
    }
    seal.build()
}

/// The labels of the `seal` blocks in a config (`["awskms"]`), in order.
fn seals(text: &str, path: &Path) -> Result<Vec<String>, String> {
    let body = hcl::edit::parser::parse_body(text)
        .map_err(|e| format!("{} is not HCL autounseal can read: {e}", path.display()))?;
    Ok(body
        .get_blocks("seal")
        .map(|b| b.labels.first().map(|l| l.as_str().to_string()).unwrap_or_default())
        .collect())
}

/// The operator's config with its `seal "awskms"` stanza replaced (or added at the end):
/// every other byte, comments included, stays. Another seal is refused.
fn keep_with_seal(text: &str, path: &Path, seal: &str, flavour: Flavour) -> Result<String, String> {
    let body = hcl::edit::parser::parse_body(text)
        .map_err(|e| format!("{} is not HCL autounseal can read: {e}", path.display()))?;
    if let Some(label) = body
        .get_blocks("seal")
        .map(|b| b.labels.first().map(|l| l.as_str()).unwrap_or_default())
        .find(|label| *label != "awskms")
    {
        return Err(format!(
            "{} uses seal \"{label}\"; autounseal only adds a seal \"awskms\" where there is none (or replaces \
             one). Migrate away from the {label} seal first, or give another output.vault_config",
            path.display()
        ));
    }
    let mut kept = cut_awskms(text, &body).trim_end().to_string();
    kept.push_str("\n\n");
    // Integrated storage wants mlock off; the operator's own setting wins.
    if flavour == Flavour::Vault && !body.has_attribute("disable_mlock") {
        kept.push_str("disable_mlock = true\n\n");
    }
    kept.push_str(seal);
    Ok(kept)
}

/// `text` with every `seal "awskms"` stanza cut out (with the blank lines after it);
/// every other byte as it was.
fn cut_awskms(text: &str, body: &hcl::edit::structure::Body) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut from = 0;
    for span in awskms_stanzas(text, body) {
        if span.start < from {
            continue;
        }
        kept.push_str(&text[from..span.start]);
        // The blank lines after the stanza go with it.
        let rest = &text[span.end..];
        from = span.end + (rest.len() - rest.trim_start().len());
    }
    kept.push_str(&text[from..]);
    without_recovery_comments(&kept)
}

/// `text` without the recovery comments autounseal wrote (each from its marker line to
/// the last comment line after it, with the blank line before it).
fn without_recovery_comments(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut in_comment = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with(RECOVERY_MARKER) {
            in_comment = true;
            if kept.last().is_some_and(|l| l.trim().is_empty()) {
                kept.pop();
            }
            continue;
        }
        if in_comment && line.starts_with('#') {
            continue;
        }
        in_comment = false;
        kept.push(line);
    }
    kept.concat()
}

/// The spans of the awskms seal stanzas and of the awskms KMS plugin's declaration, in
/// order: its block, autounseal's marker line, and the `plugin_directory` autounseal
/// wrote between the two (kept while another plugin block may need it). Whatever else
/// lies between them is the operator's and stays.
fn awskms_stanzas(text: &str, body: &hcl::edit::structure::Body) -> Vec<std::ops::Range<usize>> {
    let awskms_plugin = |b: &hcl::edit::structure::Block| {
        b.labels.first().is_some_and(|l| l.as_str() == "kms") && b.labels.get(1).is_some_and(|l| l.as_str() == "awskms")
    };
    let seals = body
        .get_blocks("seal")
        .filter(|b| b.labels.first().is_some_and(|l| l.as_str() == "awskms"));
    let plugins = body.get_blocks("plugin").filter(|b| awskms_plugin(b));
    let mut spans: Vec<std::ops::Range<usize>> = seals.chain(plugins).filter_map(|b| b.span()).collect();
    if let Some(marker) = text.find(PLUGIN_MARKER) {
        let line_end = text[marker..].find('\n').map_or(text.len(), |i| marker + i + 1);
        let ours = body
            .get_blocks("plugin")
            .filter(|b| awskms_plugin(b))
            .filter_map(|b| b.span())
            .find(|s| s.start > marker);
        let others = body.get_blocks("plugin").any(|b| !awskms_plugin(b));
        if let (Some(ours), false) = (ours, others)
            && let Some(directory) = body.get_attribute("plugin_directory").and_then(|a| a.span())
            && directory.start > marker
            && directory.end <= ours.start
        {
            spans.push(directory);
        }
        spans.push(marker..line_end);
    }
    spans.sort_by_key(|s| s.start);
    spans
}

/// The config without its `seal "awskms"` stanza (the way back): only the stanza's
/// bytes go. Errors when the text does not parse.
pub fn without_awskms(text: &str) -> Result<String, String> {
    let body = hcl::edit::parser::parse_body(text).map_err(|e| format!("it does not parse as HCL: {e}"))?;
    Ok(cut_awskms(text, &body))
}

/// The config with `disabled = "true"` in its `seal "awskms"` stanza (the first step of
/// the way back), written into the stanza's own lines; every other byte as it was.
pub fn with_awskms_disabled(text: &str) -> Result<String, String> {
    let body = hcl::edit::parser::parse_body(text).map_err(|e| format!("it does not parse as HCL: {e}"))?;
    let block = body
        .get_blocks("seal")
        .find(|b| b.labels.first().is_some_and(|l| l.as_str() == "awskms"))
        .ok_or("it has no seal \"awskms\" stanza")?;
    const LINE: &str = "disabled = \"true\"";
    if let Some(attr) = block.body.get_attribute("disabled") {
        let span = attr.span().ok_or("its stanza cannot be edited in place")?;
        return Ok(format!("{}{LINE}{}", &text[..span.start], &text[span.end..]));
    }
    let span = block.span().ok_or("its stanza cannot be edited in place")?;
    let close = text[..span.end].rfind('}').ok_or("its stanza has no closing brace")?;
    let line_start = text[..close].rfind('\n').map_or(0, |i| i + 1);
    if text[line_start..close].trim().is_empty() {
        // `}` on a line of its own: the attribute goes on the line before it.
        return Ok(format!("{}  {LINE}\n{}", &text[..line_start], &text[line_start..]));
    }
    // A block on one line (`{ region = "…" }`) holds one attribute only: opened up.
    let open = span.start
        + text[span.start..close]
            .find('{')
            .ok_or("its stanza has no opening brace")?;
    let inner = text[open + 1..close].trim();
    Ok(format!("{}{{\n  {inner}\n  {LINE}\n{}", &text[..open], &text[close..]))
}

/// Whether `now` is what autounseal made of the operator's `original` config (its seal
/// stanza aside, in whatever state): then the way back can put `original` back byte
/// for byte. An edit of the operator's since then says no, and only the stanza goes.
pub fn only_our_stanza_added(original: &str, now: &str) -> bool {
    let Ok(now) = without_awskms(now) else { return false };
    [Flavour::Vault, Flavour::OpenBao].into_iter().any(|flavour| {
        keep_with_seal(original, Path::new("config"), "seal \"awskms\" {}\n", flavour)
            .and_then(|ours| without_awskms(&ours))
            .is_ok_and(|ours| ours == now)
    })
}

/// The storage the operator's kept config names: in the file itself, or for a seal
/// stanza of its own in the files beside it.
pub fn kept_storage(config: &Path) -> Option<PathBuf> {
    from_kept(config, storage_named)
}

/// What `read` finds in the operator's kept config: in the file itself, or for a seal
/// stanza of its own in the first file beside it where it finds it.
fn from_kept<T>(config: &Path, read: impl Fn(&str) -> Option<T>) -> Option<T> {
    match Base::of(config) {
        Base::Ours => None,
        Base::Operator(text) => read(&text),
        Base::Fragment => sibling_configs(config)
            .iter()
            .find_map(|f| read(&std::fs::read_to_string(f).ok()?)),
    }
}

/// The raft `node_id` the operator's kept config names: a node of a cluster keeps it.
pub fn kept_node_id(config: &Path) -> Option<String> {
    from_kept(config, |text| {
        let parsed: serde_json::Value = hcl::from_str(text).ok()?;
        parsed["storage"]["raft"]["node_id"].as_str().map(str::to_string)
    })
}

/// Whether the operator's kept config keeps its storage at `storage`: then the data
/// there is theirs on purpose.
pub fn operator_names_storage(config: &Path, storage: &Path) -> bool {
    kept_storage(config).as_deref() == Some(storage)
}

/// The storage path a config names (`storage "raft"` or `"file"`), if any.
pub fn storage_named(text: &str) -> Option<PathBuf> {
    let parsed: serde_json::Value = hcl::from_str(text).ok()?;
    let storage = parsed.get("storage")?.as_object()?;
    storage
        .values()
        .find_map(|s| s.get("path").and_then(|p| p.as_str()))
        .map(PathBuf::from)
}

/// The config text. `kms_key_id` is the key's id or ARN; credentials are not in it:
/// the server reads them from its environment (the env file), or in the `shared-file`
/// style from the shared credentials file the seal stanza names.
pub fn render(answers: &Answers, kms_key_id: &str, flavour: Flavour, plugin: Option<&KmsPlugin>) -> String {
    let mut storage = Block::builder("storage")
        .add_label("raft")
        .add_attribute(("path", answers.server.storage_path.to_string_lossy().into_owned()))
        .add_attribute(("node_id", answers.server.node_id.clone()))
        // Raft's fastest timing, which Vault's docs recommend for production: elections
        // and init take about a second instead of five or six (the default multiplier 5
        // suits the slowest machines).
        .add_attribute(("performance_multiplier", 1));
    for join in retry_join_blocks(answers) {
        storage = storage.add_block(join);
    }
    let storage = storage.build();
    let mut listener = Block::builder("listener")
        .add_label("tcp")
        .add_attribute(("address", answers.server.listen.clone()));
    if answers.server.tls_disable {
        listener = listener.add_attribute(("tls_disable", true));
    } else {
        let path =
            |p: &Option<std::path::PathBuf>| p.as_deref().map(Path::to_string_lossy).unwrap_or_default().into_owned();
        listener = listener
            .add_attribute(("tls_cert_file", path(&answers.server.tls_cert_file)))
            .add_attribute(("tls_key_file", path(&answers.server.tls_key_file)));
    }
    let mut body = Body::builder()
        .add_block(storage)
        .add_block(listener.build())
        .add_block(seal_block(answers, kms_key_id))
        .add_attribute(("api_addr", api_addr(answers)))
        .add_attribute(("cluster_addr", cluster_addr(answers)))
        .add_attribute(("ui", true));
    // Integrated storage wants mlock off; OpenBao has no mlock and warns about the key.
    if flavour == Flavour::Vault {
        body = body.add_attribute(("disable_mlock", true));
    }
    let text = hcl::to_string(&body.build()).expect("an HCL body always formats");
    let from = if answers.output.key_files().shared.is_some() {
        "the shared credentials file the seal names"
    } else {
        "the env file"
    };
    format!(
        "{WRITTEN_BY} Credentials for the awskms seal come from {from}, not from here.\n{text}{}{}",
        plugin
            .map(|p| format!("\n{}", plugin_text(p).trim_end()))
            .unwrap_or_default(),
        recovery_stanzas(answers, kms_key_id)
    )
}

/// The seal a drill's recovery server uses: the key's replica in `region`, reached at
/// `endpoint` (an emulator's), through the live server's KMS plugin when it has one.
pub struct RecoverySeal<'a> {
    pub region: &'a str,
    pub replica_arn: &'a str,
    pub endpoint: Option<&'a str>,
    pub plugin: Option<&'a KmsPlugin>,
}

/// The config of a drill's recovery server: raft in `storage`, a plain-HTTP listener on
/// loopback only (`listen`, its cluster port `cluster`), the seal on the key's replica.
/// Its credentials come from its environment, as a live server's.
pub fn recovery_config(storage: &Path, listen: &str, cluster: &str, seal: RecoverySeal, flavour: Flavour) -> String {
    let RecoverySeal {
        region,
        replica_arn,
        endpoint,
        plugin,
    } = seal;
    let storage = Block::builder("storage")
        .add_label("raft")
        .add_attribute(("path", storage.to_string_lossy().into_owned()))
        .add_attribute(("node_id", "autounseal-drill"))
        .add_attribute(("performance_multiplier", 1))
        .build();
    let listener = Block::builder("listener")
        .add_label("tcp")
        .add_attribute(("address", listen.to_string()))
        .add_attribute(("cluster_address", cluster.to_string()))
        .add_attribute(("tls_disable", true))
        .build();
    let mut body = Body::builder()
        .add_block(storage)
        .add_block(listener)
        .add_block(awskms_block(region, replica_arn, endpoint).build())
        .add_attribute(("api_addr", format!("http://{listen}")))
        .add_attribute(("cluster_addr", format!("https://{cluster}")));
    if flavour == Flavour::Vault {
        body = body.add_attribute(("disable_mlock", true));
    }
    let text = hcl::to_string(&body.build()).expect("an HCL body always formats");
    let plugin = plugin.map(|p| format!("\n{}", plugin_text(p))).unwrap_or_default();
    format!(
        "{WRITTEN_BY} A recovery drill's throwaway server, on loopback; removed when the drill ends.\n{text}{plugin}"
    )
}

/// One `retry_join` block per other node of the cluster: an uninitialised node tries
/// them all until one leader lets it in (an initialised node ignores them). With TLS the
/// leaders' certificates are checked against the CA bundle the operator gave.
fn retry_join_blocks(answers: &Answers) -> Vec<Block> {
    answers
        .cluster
        .peers
        .iter()
        .map(|leader| {
            let mut join = Block::builder("retry_join").add_attribute(("leader_api_addr", leader.clone()));
            if let (false, Some(ca)) = (answers.server.tls_disable, &answers.server.ca_cert) {
                join = join.add_attribute(("leader_ca_cert_file", ca.to_string_lossy().into_owned()));
            }
            join.build()
        })
        .collect()
}

/// Whether `config` is a file autounseal wrote whose raft storage is `storage`: then the
/// data there is this setup's own, also when the manifest was lost and is being rebuilt.
pub fn written_by_us_for(config: &Path, storage: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(config) else {
        return false;
    };
    if !text.starts_with(WRITTEN_BY) {
        return false;
    }
    let parsed: Result<serde_json::Value, _> = hcl::from_str(&text);
    parsed.is_ok_and(|v| v["storage"]["raft"]["path"].as_str() == Some(&*storage.to_string_lossy()))
}

/// The systemd drop-in that hands the env file to the server.
pub fn systemd_drop_in(env_file: &Path) -> String {
    format!(
        "# Written by autounseal: AWS credentials for the awskms seal.\n[Service]\nEnvironmentFile={}\n",
        env_file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn answers() -> Answers {
        let mut a = Answers {
            region: "eu-west-1".into(),
            ..Default::default()
        };
        a.server.tls_disable = true;
        a
    }

    fn parse(text: &str) -> Value {
        hcl::from_str(text).unwrap()
    }

    #[test]
    fn a_kept_config_says_what_raft_timing_it_keeps() {
        let with = "storage \"raft\" {\n  path = \"/d\"\n  performance_multiplier = 3\n}\n";
        let without = "storage \"raft\" {\n  path = \"/d\"\n}\n";
        assert_eq!(raft_multiplier(with), Some(Some(3)));
        assert_eq!(raft_multiplier(without), Some(None));
        assert_eq!(raft_multiplier("storage \"file\" {\n  path = \"/d\"\n}\n"), None);
        let kept = |new: &str| {
            ConfigText {
                old: Some(new.into()),
                new: new.into(),
                kind: Written::Kept,
            }
            .summary(Path::new("/etc/vault.d/vault.hcl"))
        };
        assert!(
            kept(with).contains("performance_multiplier = 3, yours, kept"),
            "{}",
            kept(with)
        );
        assert!(kept(without).contains("kept at its default"), "{}", kept(without));
    }

    #[test]
    fn the_seal_stanza_has_region_and_key_and_no_credentials() {
        let text = render(&answers(), "arn:aws:kms:eu-west-1:1:key/k", Flavour::OpenBao, None);
        let v = parse(&text);
        let seal = &v["seal"]["awskms"];
        assert_eq!(seal["region"], "eu-west-1");
        assert_eq!(seal["kms_key_id"], "arn:aws:kms:eu-west-1:1:key/k");
        assert!(seal.get("endpoint").is_none());
        for secret_key in ["access_key", "secret_key"] {
            assert!(seal.get(secret_key).is_none());
        }
        assert_eq!(v["storage"]["raft"]["path"], "/opt/vault/data");
        assert_eq!(v["storage"]["raft"]["node_id"], "autounseal-1");
        assert_eq!(v["storage"]["raft"]["performance_multiplier"], 1);
        assert_eq!(v["listener"]["tcp"]["address"], "127.0.0.1:8200");
        assert_eq!(v["listener"]["tcp"]["tls_disable"], true);
        assert_eq!(v["api_addr"], "http://127.0.0.1:8200");
        assert_eq!(v["cluster_addr"], "https://127.0.0.1:8201");
        assert_eq!(v["ui"], true);
        assert!(v.get("disable_mlock").is_none(), "OpenBao does not know disable_mlock");
    }

    #[test]
    fn the_shared_file_style_names_the_file_and_profile_in_every_kind_of_config() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = answers();
        a.output.credentials = crate::answers::CredentialsStyle::SharedFile;
        a.output.shared_credentials_file = Some("/etc/openbao/aws-credentials".into());
        a.output.credentials_profile = "unseal".into();
        let named = |text: &str| {
            let seal = parse(text)["seal"]["awskms"].clone();
            (
                seal["shared_creds_filename"].clone(),
                seal["shared_creds_profile"].clone(),
            )
        };
        let want = (Value::from("/etc/openbao/aws-credentials"), Value::from("unseal"));
        let whole = render(&a, "k", Flavour::OpenBao, None);
        assert_eq!(named(&whole), want);
        assert!(
            whole.contains("come from the shared credentials file the seal names"),
            "{whole}"
        );
        a.output.vault_config = dir.path().join("vault.hcl");
        std::fs::write(&a.output.vault_config, OPERATORS).unwrap();
        assert_eq!(
            named(&plan(&a, "k", Flavour::OpenBao, None).unwrap().new),
            want,
            "a kept config"
        );
        a.output.vault_config = dir.path().join(SEAL_FRAGMENT);
        std::fs::remove_file(dir.path().join("vault.hcl")).unwrap();
        assert_eq!(
            named(&plan(&a, "k", Flavour::OpenBao, None).unwrap().new),
            want,
            "a stanza alone"
        );
        // The env style names no file: the seal reads the environment.
        a.output.credentials = crate::answers::CredentialsStyle::Env;
        let seal = &parse(&render(&a, "k", Flavour::OpenBao, None))["seal"]["awskms"];
        assert!(seal.get("shared_creds_filename").is_none() && seal.get("shared_creds_profile").is_none());
    }

    #[test]
    fn endpoint_only_with_an_override_and_tls_files_when_given() {
        let mut a = answers();
        a.endpoint_url = Some("http://127.0.0.1:5000".into());
        a.server.tls_disable = false;
        a.server.tls_cert_file = Some("/etc/vault.d/tls/my \"cert\".pem".into());
        a.server.tls_key_file = Some("/etc/vault.d/tls/key.pem".into());
        a.server.listen = "0.0.0.0:8200".into();
        let v = parse(&render(&a, "k", Flavour::Vault, None));
        assert_eq!(v["seal"]["awskms"]["endpoint"], "http://127.0.0.1:5000");
        // Quotes in a path are escaped, not injected.
        assert_eq!(
            v["listener"]["tcp"]["tls_cert_file"],
            "/etc/vault.d/tls/my \"cert\".pem"
        );
        assert!(v["listener"]["tcp"].get("tls_disable").is_none());
        assert_eq!(v["api_addr"], "https://127.0.0.1:8200");
        assert_eq!(v["disable_mlock"], true);
    }

    #[test]
    fn a_kept_config_names_its_raft_node_id_and_ours_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("openbao.hcl");
        std::fs::write(
            &config,
            "storage \"raft\" {\n  path = \"/opt/openbao/data\"\n  node_id = \"vault-b\"\n}\n",
        )
        .unwrap();
        assert_eq!(kept_node_id(&config).as_deref(), Some("vault-b"));
        let mut a = answers();
        a.server.node_id = "ours-2".into();
        std::fs::write(&config, render(&a, "k", Flavour::OpenBao, None)).unwrap();
        assert_eq!(kept_node_id(&config), None, "a config autounseal wrote is not kept");
    }

    #[test]
    fn a_config_we_wrote_claims_its_storage() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vault.hcl");
        let a = answers();
        std::fs::write(&config, render(&a, "k", Flavour::OpenBao, None)).unwrap();
        assert!(written_by_us_for(&config, &a.server.storage_path));
        assert!(!written_by_us_for(&config, Path::new("/elsewhere")));
        std::fs::write(&config, "storage \"raft\" { path = \"/opt/vault/data\" }\n").unwrap();
        assert!(
            !written_by_us_for(&config, &a.server.storage_path),
            "not ours: no header"
        );
    }

    /// The operator's old awskms stanza in [`OPERATORS`], with the blank line after it.
    const SEAL_OLD: &str = "seal \"awskms\" {\n  region = \"us-east-1\"\n  kms_key_id = \"old\"\n}\n\n";

    const OPERATORS: &str = "# Our production Vault: do not touch the listeners.\n\
        storage \"raft\" {\n  path = \"/var/lib/vault\"\n}\n\n\
        listener \"tcp\" {\n  address = \"0.0.0.0:8200\" # the public one\n}\n\n\
        seal \"awskms\" {\n  region = \"us-east-1\"\n  kms_key_id = \"old\"\n}\n\n\
        telemetry {\n  prometheus_retention_time = \"30s\"\n}\n";

    #[test]
    fn an_operators_config_keeps_everything_but_its_awskms_seal() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = answers();
        a.output.vault_config = dir.path().join("vault.hcl");
        std::fs::write(&a.output.vault_config, OPERATORS).unwrap();
        let text = plan(&a, "arn:new", Flavour::Vault, None).unwrap();
        assert_eq!(text.old.as_deref(), Some(OPERATORS));
        assert_eq!(text.kind, Written::Kept);
        // Comments and layout survive byte for byte; the old seal is gone.
        assert!(
            text.new
                .starts_with("# Our production Vault: do not touch the listeners.\nstorage")
        );
        assert!(text.new.contains("address = \"0.0.0.0:8200\" # the public one"));
        assert!(!text.new.contains("\"old\""));
        let v = parse(&text.new);
        assert_eq!(v["seal"]["awskms"]["kms_key_id"], "arn:new");
        assert_eq!(v["seal"]["awskms"]["region"], "eu-west-1");
        assert_eq!(v["storage"]["raft"]["path"], "/var/lib/vault");
        assert_eq!(v["telemetry"]["prometheus_retention_time"], "30s");
        assert_eq!(v["disable_mlock"], true);
        assert_eq!(storage_named(OPERATORS).as_deref(), Some(Path::new("/var/lib/vault")));
        assert!(operator_names_storage(
            &a.output.vault_config,
            Path::new("/var/lib/vault")
        ));
        // The diff shows only the seal's lines changing.
        let diff = text.diff(&a.output.vault_config);
        assert!(
            diff.contains("-  kms_key_id = \"old\"") && diff.contains("+  kms_key_id = \"arn:new\""),
            "{diff}"
        );
        assert!(!diff.contains("-listener"), "{diff}");
        // Run again on its own output: nothing changes.
        std::fs::write(&a.output.vault_config, &text.new).unwrap();
        assert_eq!(plan(&a, "arn:new", Flavour::Vault, None).unwrap().new, text.new);
    }

    #[test]
    fn each_replica_gets_its_recovery_stanza_as_a_comment_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = answers();
        a.kms.replica_regions = vec!["us-west-2".into(), "eu-central-1".into()];
        let key = "arn:aws:kms:eu-west-1:1:key/mrk-k";
        let whole = render(&a, key, Flavour::OpenBao, None);
        // One active seal, the primary's; each replica's stanza commented out, complete.
        let v = parse(&whole);
        assert_eq!(v["seal"]["awskms"]["region"], "eu-west-1");
        assert_eq!(v["seal"]["awskms"]["kms_key_id"], key);
        for region in ["us-west-2", "eu-central-1"] {
            let comment: String = whole
                .lines()
                .skip_while(|l| !l.starts_with(&format!("{RECOVERY_MARKER}{region} ")))
                .skip(1)
                .take_while(|l| l.starts_with("# "))
                .map(|l| format!("{}\n", &l[2..]))
                .collect();
            let stanza = parse(&comment);
            assert_eq!(stanza["seal"]["awskms"]["region"], region, "{whole}");
            assert_eq!(
                stanza["seal"]["awskms"]["kms_key_id"],
                format!("arn:aws:kms:{region}:1:key/mrk-k")
            );
        }
        // In an operator's config too, and a re-run or the way back takes the comments
        // with the stanza, leaving the operator's own comments.
        a.output.vault_config = dir.path().join("vault.hcl");
        std::fs::write(&a.output.vault_config, OPERATORS).unwrap();
        let kept = plan(&a, key, Flavour::OpenBao, None).unwrap().new;
        assert_eq!(kept.matches(RECOVERY_MARKER).count(), 2, "{kept}");
        std::fs::write(&a.output.vault_config, &kept).unwrap();
        assert_eq!(
            plan(&a, key, Flavour::OpenBao, None).unwrap().new,
            kept,
            "a re-run changes nothing"
        );
        let back = without_awskms(&kept).unwrap();
        assert!(!back.contains("awskms") && !back.contains(RECOVERY_MARKER), "{back}");
        assert!(back.contains("# Our production Vault: do not touch the listeners."));
        assert!(!without_awskms(&whole).unwrap().contains(RECOVERY_MARKER));
    }

    #[test]
    fn another_seal_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = answers();
        a.output.vault_config = dir.path().join("vault.hcl");
        std::fs::write(
            &a.output.vault_config,
            "seal \"transit\" {\n  address = \"https://v:8200\"\n}\n",
        )
        .unwrap();
        let err = plan(&a, "k", Flavour::OpenBao, None).unwrap_err();
        assert!(
            err.contains("uses seal \"transit\"") && err.contains("Migrate away"),
            "{err}"
        );
    }

    #[test]
    fn in_a_config_folder_the_seal_is_a_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = answers();
        a.output.vault_config = dir.path().join(SEAL_FRAGMENT);
        std::fs::write(dir.path().join("vault.hcl"), "storage \"raft\" { path = \"/d\" }\n").unwrap();
        let text = plan(&a, "k", Flavour::OpenBao, None).unwrap();
        assert_eq!(text.old, None);
        assert_eq!(text.kind, Written::Stanza);
        assert!(
            text.summary(&a.output.vault_config)
                .ends_with("(seal \"awskms\" alone, beside the config files)")
        );
        assert_eq!(server_reads(&a.output.vault_config), dir.path());
        let v = parse(&text.new);
        assert_eq!(v["seal"]["awskms"]["kms_key_id"], "k");
        assert!(v.get("storage").is_none() && v.get("listener").is_none(), "{v}");
        std::fs::write(dir.path().join("seal.hcl"), "seal \"pkcs11\" {}\n").unwrap();
        let err = plan(&a, "k", Flavour::OpenBao, None).unwrap_err();
        assert!(err.contains("seal.hcl already has a seal \"pkcs11\""), "{err}");
    }

    #[test]
    fn a_cluster_node_names_the_others_in_retry_join() {
        let mut a = answers();
        a.cluster.peers = vec!["http://127.0.0.1:8210".into(), "http://127.0.0.1:8220".into()];
        let v = parse(&render(&a, "k", Flavour::OpenBao, None));
        let joins = v["storage"]["raft"]["retry_join"]
            .as_array()
            .expect("a list of blocks")
            .clone();
        let leaders: Vec<_> = joins.iter().map(|j| j["leader_api_addr"].clone()).collect();
        assert_eq!(leaders, ["http://127.0.0.1:8210", "http://127.0.0.1:8220"]);
        assert!(joins[0].get("leader_ca_cert_file").is_none(), "no TLS, no CA");
        a.server.tls_disable = false;
        a.server.tls_cert_file = Some("/c.pem".into());
        a.server.tls_key_file = Some("/k.pem".into());
        a.server.ca_cert = Some("/etc/vault.d/ca.pem".into());
        let v = parse(&render(&a, "k", Flavour::OpenBao, None));
        assert_eq!(
            v["storage"]["raft"]["retry_join"][1]["leader_ca_cert_file"],
            "/etc/vault.d/ca.pem"
        );
        // A single server has none.
        let v = parse(&render(&answers(), "k", Flavour::OpenBao, None));
        assert!(v["storage"]["raft"].get("retry_join").is_none());
    }

    #[test]
    fn drop_in_points_at_the_env_file() {
        let text = systemd_drop_in(Path::new("/etc/vault.d/vault.env"));
        assert!(text.contains("[Service]\nEnvironmentFile=/etc/vault.d/vault.env\n"));
    }

    /// An operator's config as packages and people write it: comments, aligned `=`,
    /// blank lines, no newline at the end.
    const PACKAGED: &str = "# Full configuration options can be found at https://developer.hashicorp.com/vault/docs/configuration\n\
        \n\
        ui = true\n\
        \n\
        storage \"raft\" {\n  path    = \"/opt/vault/data\"   # the data\n  node_id = \"n1\"\n}\n\
        \n\
        \n\
        listener \"tcp\" {\n  address     = \"0.0.0.0:8200\"\n  tls_disable = 1\n}";

    #[test]
    fn the_way_back_disables_then_cuts_only_the_stanzas_bytes() {
        let mut a = answers();
        a.output.vault_config = "/etc/vault.d/vault.hcl".into();
        let seal = seal_text(&a, "arn:aws:kms:eu-west-1:1:key/k", None);
        let forward = keep_with_seal(PACKAGED, Path::new("vault.hcl"), &seal, Flavour::Vault).unwrap();
        let disabled = with_awskms_disabled(&forward).unwrap();
        let v = parse(&disabled);
        assert_eq!(v["seal"]["awskms"]["disabled"], "true");
        assert_eq!(v["seal"]["awskms"]["kms_key_id"], "arn:aws:kms:eu-west-1:1:key/k");
        // Only a line was added: everything before the stanza is as it was.
        let before_stanza = &forward[..forward.find("seal \"awskms\"").unwrap()];
        assert!(disabled.starts_with(before_stanza), "{disabled}");
        assert_eq!(disabled.len(), forward.len() + "  disabled = \"true\"\n".len());
        assert_eq!(
            with_awskms_disabled(&disabled).unwrap(),
            disabled,
            "disabling twice changes nothing"
        );
        // Cut: the operator's text, untouched, with what the forward step appended.
        let cut = without_awskms(&disabled).unwrap();
        assert!(cut.starts_with(PACKAGED), "{cut}");
        assert!(!cut.contains("awskms"), "{cut}");
        assert!(only_our_stanza_added(PACKAGED, &forward));
        assert!(only_our_stanza_added(PACKAGED, &disabled));
        // An edit of the operator's since: the original is no longer what to put back.
        let edited = disabled.replace("ui = true", "ui = false");
        assert!(!only_our_stanza_added(PACKAGED, &edited));
        assert!(with_awskms_disabled("ui = true\n").is_err());
    }

    #[test]
    fn a_stanza_closed_on_its_last_line_is_disabled_inside_it() {
        let text = "# mine\nseal \"awskms\" { region = \"eu-west-1\" }\nui = true\n";
        let disabled = with_awskms_disabled(text).unwrap();
        let v = parse(&disabled);
        assert_eq!(v["seal"]["awskms"]["disabled"], "true");
        assert_eq!(v["seal"]["awskms"]["region"], "eu-west-1");
        assert!(
            disabled.starts_with("# mine\n") && disabled.ends_with("}\nui = true\n"),
            "{disabled}"
        );
        let replaced = with_awskms_disabled("seal \"awskms\" {\n  disabled = \"false\"\n}\n").unwrap();
        assert_eq!(replaced, "seal \"awskms\" {\n  disabled = \"true\"\n}\n");
    }

    fn plugin(directory: &str, write_directory: bool) -> KmsPlugin {
        KmsPlugin {
            source: "/root/openbao-plugin-kms-aws".into(),
            directory: directory.into(),
            write_directory,
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn the_kms_plugin_is_declared_beside_the_unchanged_seal_in_every_kind_of_config() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = answers();
        let ours = plugin("/opt/openbao/plugins", true);
        let check = |text: &str, directory: Option<&str>| {
            let v = parse(text);
            assert_eq!(v["plugin_directory"].as_str(), directory, "{text}");
            let declared = &v["plugin"]["kms"]["awskms"];
            assert_eq!(
                declared["command"],
                format!("openbao-plugin-kms-aws-{}", "ab".repeat(6)),
                "{text}"
            );
            assert_eq!(declared["sha256sum"], "ab".repeat(32).as_str());
            assert_eq!(v["seal"]["awskms"]["kms_key_id"], "k");
            // The seal is as without the plugin.
            assert_eq!(
                v["seal"],
                parse(&render(&answers(), "k", Flavour::OpenBao, None))["seal"]
            );
        };
        check(
            &render(&a, "k", Flavour::OpenBao, Some(&ours)),
            Some("/opt/openbao/plugins"),
        );
        a.output.vault_config = dir.path().join("openbao.hcl");
        std::fs::write(&a.output.vault_config, OPERATORS).unwrap();
        let kept = plan(&a, "k", Flavour::OpenBao, Some(&ours)).unwrap().new;
        check(&kept, Some("/opt/openbao/plugins"));
        assert!(kept.starts_with("# Our production Vault"), "{kept}");
        // The way back and a re-run cut our declaration with the stanza, nothing else.
        std::fs::write(&a.output.vault_config, &kept).unwrap();
        assert_eq!(
            kept_plugin_directory(&a.output.vault_config),
            None,
            "ours is not the operator's"
        );
        assert_eq!(
            plan(&a, "k", Flavour::OpenBao, Some(&ours)).unwrap().new,
            kept,
            "a re-run changes nothing"
        );
        let cut = without_awskms(&kept).unwrap();
        assert!(!cut.contains("plugin") && !cut.contains("autounseal"), "{cut}");
        assert!(only_our_stanza_added(OPERATORS, &kept));
        // Its first step keeps the plugin: the disabled seal still decrypts through it.
        let disabled = with_awskms_disabled(&kept).unwrap();
        assert_eq!(parse(&disabled)["plugin"], parse(&kept)["plugin"]);
        assert_eq!(
            declared_plugin(&a.output.vault_config),
            Some(DeclaredPlugin {
                path: format!("/opt/openbao/plugins/openbao-plugin-kms-aws-{}", "ab".repeat(6)).into(),
                sha256: "ab".repeat(32)
            })
        );

        // An operator's own plugin_directory is the one used, and not written twice.
        let with_dir = format!("plugin_directory = \"/srv/plugins\"\n\n{OPERATORS}");
        std::fs::write(&a.output.vault_config, &with_dir).unwrap();
        assert_eq!(
            kept_plugin_directory(&a.output.vault_config),
            Some("/srv/plugins".into())
        );
        let theirs = plugin("/srv/plugins", false);
        let kept = plan(&a, "k", Flavour::OpenBao, Some(&theirs)).unwrap().new;
        check(&kept, Some("/srv/plugins"));
        assert_eq!(kept.matches("plugin_directory").count(), 1, "{kept}");
        std::fs::write(&a.output.vault_config, &kept).unwrap();
        assert_eq!(
            kept_plugin_directory(&a.output.vault_config),
            Some("/srv/plugins".into())
        );
        assert_eq!(
            without_awskms(&kept).unwrap().trim_end(),
            with_dir.replace(SEAL_OLD, "").trim_end()
        );

        // A stanza of its own in a config folder: the folder is the siblings'.
        std::fs::write(&a.output.vault_config, with_dir.replace(SEAL_OLD, "")).unwrap();
        a.output.vault_config = dir.path().join(SEAL_FRAGMENT);
        assert_eq!(
            kept_plugin_directory(&a.output.vault_config),
            Some("/srv/plugins".into())
        );
        let fragment = plan(&a, "k", Flavour::OpenBao, Some(&theirs)).unwrap().new;
        assert!(!fragment.contains("plugin_directory"), "{fragment}");
        assert!(declares_awskms_plugin(&fragment), "{fragment}");
    }

    #[test]
    fn the_cut_takes_our_declaration_and_nothing_of_the_operators_between() {
        let ours = plugin("/opt/openbao/plugins", true);
        let kept = keep_with_seal(
            OPERATORS,
            Path::new("c"),
            &seal_text(&answers(), "k", Some(&ours)),
            Flavour::OpenBao,
        )
        .unwrap();
        // The operator adds a plugin of their own between our plugin_directory and block.
        let at = kept.find("plugin \"kms\"").unwrap();
        let theirs = "plugin \"secret\" \"kv\" {\n  command = \"kv\"\n  sha256sum = \"cd\"\n}\n\n";
        let edited = format!("{}{theirs}{}", &kept[..at], &kept[at..]);
        let cut = without_awskms(&edited).unwrap();
        assert!(cut.contains(theirs), "{cut}");
        assert!(!cut.contains("autounseal") && !cut.contains("\"awskms\""), "{cut}");
        // Their plugin needs the folder: it stays.
        assert!(cut.contains("plugin_directory = \"/opt/openbao/plugins\""), "{cut}");
        // Without it, the folder line goes with ours.
        assert!(!without_awskms(&kept).unwrap().contains("plugin_directory"));
    }

    #[test]
    fn a_second_declaration_beside_a_stanza_of_its_own_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = answers();
        std::fs::write(
            dir.path().join("base.hcl"),
            "plugin \"kms\" \"awskms\" {\n  command = \"x\"\n  sha256sum = \"ab\"\n}\n",
        )
        .unwrap();
        a.output.vault_config = dir.path().join(SEAL_FRAGMENT);
        let err = plan(&a, "k", Flavour::OpenBao, Some(&plugin("/srv/p", true))).unwrap_err();
        assert!(err.contains("already declares plugin"), "{err}");
        // Without a plugin to declare (a server with awskms built in), theirs is theirs.
        plan(&a, "k", Flavour::OpenBao, None).unwrap();
    }
}
