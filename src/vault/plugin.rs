//! OpenBao 2.7 and later have no built-in awskms seal: it is an external KMS plugin
//! (openbao changelog 3337). autounseal installs the plugin binary the operator gives
//! (or one `bao plugin init` fetched from an OCI image) into the config's
//! `plugin_directory`, as a real root-owned 0755 file, and declares it beside the
//! unchanged `seal "awskms"` stanza with its SHA-256, which the server checks again
//! before it runs it. Everything here is checked before AWS is touched.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::answers::Answers;
use crate::child::{self, Limits};
use crate::vault::server::ServerBinary;

/// The name the plugin is installed under, in the plugin folder, before its version:
/// the name OpenBao's releases give it, so that a host's layout reads as OpenBao's docs.
pub const PLUGIN_FILE: &str = "openbao-plugin-kms-aws";

/// Where operators download the plugin.
pub const RELEASES: &str = "https://github.com/openbao/openbao-plugins/releases";

/// What declares the plugin in the config: the folder it is in, whether autounseal
/// writes `plugin_directory` (not when the operator's config names it already), and
/// the checksum the server compares before running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsPlugin {
    /// The file to install: the operator's download, or `bao plugin init`'s.
    pub source: PathBuf,
    pub directory: PathBuf,
    pub write_directory: bool,
    pub sha256: String,
}

impl KmsPlugin {
    /// Its file name: the release's name and the first 12 digits of its checksum. Each
    /// version has a file of its own, so that the config always declares a file that is
    /// there: a new one is copied in beside the old, the config then names it, and only
    /// then does the old one go (see `Deployer::write_config`).
    pub fn file_name(&self) -> String {
        let short: String = self.sha256.chars().take(12).collect();
        if short.len() == 12 && short.bytes().all(|b| b.is_ascii_hexdigit()) {
            format!("{PLUGIN_FILE}-{short}")
        } else {
            format!("{PLUGIN_FILE}-<the first 12 digits of its SHA-256>")
        }
    }

    /// Where the server runs it from.
    pub fn installed(&self) -> PathBuf {
        self.directory.join(self.file_name())
    }
}

/// Whether `path` is already the plugin as it should be: a real executable file (not a
/// link), with this checksum, that only its owner (root, when autounseal runs as root)
/// can change; doctor's file checks, none failing. Such a file is kept; anything else is
/// replaced or refused.
pub fn in_place(path: &Path, sha256: &str) -> bool {
    file_problems(path, sha256).is_empty()
}

/// A problem with the plugin folder: others than its owner may write there, so they
/// could swap the file the server runs (OpenBao's docs ask that it be locked down).
pub fn folder_problem(folder: &Path) -> Option<String> {
    let meta = fs::metadata(folder).ok()?;
    let mode = meta.permissions().mode() & 0o7777;
    (mode & 0o022 != 0).then(|| {
        format!(
            "the plugin folder {} is mode {mode:04o}: others than its owner can put a plugin there for the server \
             to run. `chmod go-w {}`",
            folder.display(),
            folder.display()
        )
    })
}

/// The SHA-256 of a file, in lower-case hex (as `sha256sum` prints it).
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// ELF's machine number for the architecture autounseal was built for (and so runs
/// on): `None` for one this check does not know, which then is not judged.
fn this_machine() -> Option<u16> {
    match std::env::consts::ARCH {
        "x86_64" => Some(62),
        "aarch64" => Some(183),
        "x86" => Some(3),
        "arm" => Some(40),
        "riscv64" => Some(243),
        "powerpc64" => Some(21),
        "s390x" => Some(22),
        _ => None,
    }
}

fn machine_name(machine: u16) -> String {
    match machine {
        62 => "x86_64 (amd64)".into(),
        183 => "aarch64 (arm64)".into(),
        3 => "x86 (386)".into(),
        40 => "arm".into(),
        243 => "riscv64".into(),
        21 => "ppc64".into(),
        22 => "s390x".into(),
        other => format!("ELF machine {other}"),
    }
}

/// Whether `path` is a program this machine can run: an ELF executable of its word
/// size, byte order and architecture. The four header fields are read by hand (a
/// parser crate would add to the binary's size for twenty bytes).
pub fn check_executable(path: &Path) -> Result<(), String> {
    let mut header = Vec::with_capacity(20);
    let shown = path.display();
    fs::File::open(path)
        .and_then(|f| f.take(20).read_to_end(&mut header))
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !header.starts_with(b"\x7fELF") {
        return Err(format!(
            "{shown} is not a Linux program (no ELF header): give the plugin binary itself, unpacked from its \
             download (a .tar.gz or .zip), not the archive or a script"
        ));
    }
    if header.len() < 20 {
        return Err(format!("{shown} is too short to be a program"));
    }
    let bits64 = header[4] == 2;
    if bits64 != cfg!(target_pointer_width = "64") {
        return Err(format!(
            "{shown} is a {}-bit program; this machine runs {}-bit ones: download the plugin for linux_{}",
            if bits64 { 64 } else { 32 },
            if bits64 { 32 } else { 64 },
            go_arch()
        ));
    }
    if (header[5] == 1) != cfg!(target_endian = "little") {
        return Err(format!(
            "{shown} is for a machine of the other byte order: download the plugin for linux_{}",
            go_arch()
        ));
    }
    let kind = u16::from_le_bytes([header[16], header[17]]);
    if !matches!(kind, 2 | 3) {
        return Err(format!(
            "{shown} is an ELF file but not a program (a library or an object file?): give the \
             openbao-plugin-kms-aws binary itself"
        ));
    }
    let machine = u16::from_le_bytes([header[18], header[19]]);
    if let Some(ours) = this_machine()
        && machine != ours
    {
        return Err(format!(
            "{shown} is built for {}, and this machine is {}: download the plugin for linux_{}",
            machine_name(machine),
            machine_name(ours),
            go_arch()
        ));
    }
    Ok(())
}

/// The architecture as Go (and so OpenBao's release files) names it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn normal_sha256(text: &str) -> String {
    text.trim().trim_start_matches("sha256:").to_ascii_lowercase()
}

/// What an OpenBao without a built-in awskms needs, said where the plugin is missing.
pub fn missing(binary: &ServerBinary, directory: &Path) -> String {
    format!(
        "{} ({}) has no built-in awskms seal: since OpenBao 2.7 it is an external KMS plugin. Download \
         openbao-plugin-kms-aws for linux_{} from {RELEASES}, unpack it, and give its path as server.kms_plugin \
         (the Server screen's \"KMS plugin\"); autounseal checks it, copies it into {} and declares it with its \
         SHA-256. Or give an OCI image: server.kms_plugin_image, kms_plugin_version and kms_plugin_sha256",
        binary.version_text(),
        binary.path.display(),
        go_arch(),
        directory.display()
    )
}

/// The plugin folder: the one the operator's kept config names (`kept`, see
/// `config::kept_plugin_directory`), else the answers', else `plugins` beside the
/// storage folder (`/opt/openbao/plugins` for packaged OpenBao's `/opt/openbao/data`, as
/// OpenBao's docs have it). True when the config must name it.
pub fn directory(answers: &Answers, kept: Option<PathBuf>) -> (PathBuf, bool) {
    if let Some(dir) = kept {
        return (dir, false);
    }
    let dir = answers.server.plugin_directory.clone().unwrap_or_else(|| {
        answers
            .server
            .storage_path
            .parent()
            .unwrap_or(Path::new("/"))
            .join("plugins")
    });
    (dir, true)
}

/// Whether this server needs the plugin, and if so that the answers give a usable one:
/// the checks that come before AWS. `fetched` is the file an OCI image gave (see [`fetch`]);
/// `kept`, the plugin folder the operator's config names; `ours`, the plugin files
/// earlier runs installed (they may be replaced).
pub fn declare(
    answers: &Answers,
    binary: Option<&ServerBinary>,
    fetched: Option<&Path>,
    kept: Option<PathBuf>,
    ours: &[PathBuf],
) -> Result<Option<KmsPlugin>, String> {
    let s = &answers.server;
    let given = fetched.map(Path::to_path_buf).or_else(|| s.kms_plugin.clone());
    let needs = binary.is_some_and(|b| !b.has_builtin_awskms());
    if let Some(kept_dir) = &kept
        && let Some(asked) = &s.plugin_directory
        && asked != kept_dir
    {
        return Err(format!(
            "server.plugin_directory is {}, but {} names plugin_directory = {}: a server has one plugin folder. \
             Leave server.plugin_directory unset (the config's is used), or change the config's",
            asked.display(),
            answers.output.vault_config.display(),
            kept_dir.display()
        ));
    }
    let (directory, write_directory) = directory(answers, kept);
    if !directory.is_absolute() {
        return Err(format!(
            "the plugin folder {} is not an absolute path: the server would look for it elsewhere than autounseal \
             puts it. Name it from / (plugin_directory in the config, or server.plugin_directory)",
            directory.display()
        ));
    }
    let Some(source) = given else {
        return match binary {
            Some(b) if needs => Err(missing(b, &directory)),
            _ => Ok(None),
        };
    };
    if let Some(b) = binary.filter(|_| !needs) {
        return Err(format!(
            "{} has the awskms seal built in: it needs no KMS plugin. Remove server.kms_plugin (and \
             kms_plugin_image) from the answers, or name an OpenBao 2.7 or later as server.binary",
            b.version_text()
        ));
    }
    let meta = fs::metadata(&source).map_err(|e| {
        format!(
            "server.kms_plugin: {} cannot be read ({e}). Download openbao-plugin-kms-aws from {RELEASES} and give \
             the path of the unpacked binary",
            source.display()
        )
    })?;
    if !meta.is_file() {
        return Err(format!(
            "server.kms_plugin: {} is not a file: give the unpacked openbao-plugin-kms-aws binary",
            source.display()
        ));
    }
    check_executable(&source).map_err(|e| format!("server.kms_plugin: {e}"))?;
    let sha256 = sha256_of(&source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    if let Some(expected) = &s.kms_plugin_sha256
        && normal_sha256(expected) != sha256
    {
        return Err(format!(
            "server.kms_plugin: {} has SHA-256 {sha256}, not the {} the answers give (kms_plugin_sha256): a \
             damaged or different download. Compare it with the checksums file of its release at {RELEASES}",
            source.display(),
            normal_sha256(expected)
        ));
    }
    let plugin = KmsPlugin {
        source,
        directory,
        write_directory,
        sha256,
    };
    if let Some(problem) = folder_problem(&plugin.directory) {
        return Err(problem);
    }
    // What is already there under its name is kept only as it should be; one of ours is
    // replaced, anything else is the operator's and refused.
    let target = plugin.installed();
    let ours = ours.contains(&target);
    if fs::symlink_metadata(&target).is_ok() && !ours && !in_place(&target, &plugin.sha256) {
        return Err(format!(
            "{} already exists and is not the file autounseal would put there (a link, another file, or one others \
             than root can change): autounseal does not replace a plugin it did not install. Remove it, then run \
             again",
            target.display()
        ));
    }
    crate::files::check_writable(&target).map_err(|e| e.to_string())?;
    Ok(Some(plugin))
}

/// What [`install`] did: whether it made the folder, and whether it wrote the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    pub made_folder: bool,
    pub wrote: bool,
}

/// Copies the plugin into its folder: a real file (never a link to the download, which
/// its owner could change), 0755, root's when autounseal runs as root, written to a
/// temporary name and renamed so the server never runs half a file. The folder is made
/// 0755 when missing. A file already there with the same checksum is left as it is.
pub fn install(plugin: &KmsPlugin) -> std::io::Result<Installed> {
    let made_folder = !plugin.directory.exists();
    if made_folder {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&plugin.directory)?;
        fs::set_permissions(&plugin.directory, fs::Permissions::from_mode(0o755))?;
    }
    let target = plugin.installed();
    if in_place(&target, &plugin.sha256) {
        return Ok(Installed {
            made_folder,
            wrote: false,
        });
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{PLUGIN_FILE}."))
        .tempfile_in(&plugin.directory)?;
    let mut from = fs::File::open(&plugin.source)?;
    std::io::copy(&mut from, &mut tmp.as_file())?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))?;
    if nix::unistd::Uid::effective().is_root() {
        nix::unistd::fchown(tmp.as_file(), Some(0.into()), Some(0.into()))?;
    }
    tmp.as_file().sync_all()?;
    // The copy is checked again: a file changed while it was read is never installed.
    let copied = sha256_of(tmp.path())?;
    if copied != plugin.sha256 {
        return Err(std::io::Error::other(format!(
            "{} changed while it was copied (SHA-256 {copied}, checked as {}): run again",
            plugin.source.display(),
            plugin.sha256
        )));
    }
    // The rename replaces a link there too, never what it points to.
    tmp.persist(&target).map_err(|e| e.error)?;
    // The rename is durable only once the folder itself is synced.
    fs::File::open(&plugin.directory)?.sync_all()?;
    Ok(Installed {
        made_folder,
        wrote: true,
    })
}

/// What is wrong with the installed plugin, against the checksum its config declares,
/// and with its folder: each problem with what to do. Empty when it is as the server
/// will check it.
pub fn problems(installed: &Path, declared_sha256: &str) -> Vec<String> {
    let mut out: Vec<String> = installed.parent().and_then(folder_problem).into_iter().collect();
    out.extend(file_problems(installed, declared_sha256));
    out
}

fn file_problems(installed: &Path, declared_sha256: &str) -> Vec<String> {
    let meta = match fs::symlink_metadata(installed) {
        Ok(meta) => meta,
        Err(_) => {
            return vec![format!(
                "{} is missing: the server cannot start its awskms seal. Run `autounseal apply` to install it again",
                installed.display()
            )];
        }
    };
    let mut out = Vec::new();
    if !meta.file_type().is_file() {
        out.push(format!(
            "{} is not a real file (a link?): whoever can change what it points to can run code as the server",
            installed.display()
        ));
        return out;
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        out.push(format!(
            "{} is mode {mode:04o}: others than its owner can replace the code the server runs. `chmod 0755 {}`",
            installed.display(),
            installed.display()
        ));
    }
    if mode & 0o111 == 0 {
        out.push(format!(
            "{} is not executable: `chmod 0755 {}`",
            installed.display(),
            installed.display()
        ));
    }
    if nix::unistd::Uid::effective().is_root() && meta.uid() != 0 {
        out.push(format!(
            "{} belongs to uid {}, not root: its owner can replace the code the server runs. `chown root:root {}`",
            installed.display(),
            meta.uid(),
            installed.display()
        ));
    }
    match sha256_of(installed) {
        Ok(sum) if sum != normal_sha256(declared_sha256) => out.push(format!(
            "{} has SHA-256 {sum}, but the config declares {}: the server refuses it (\"checksums did not match\") \
             and stays sealed. Run `autounseal apply` to install the right file again",
            installed.display(),
            normal_sha256(declared_sha256)
        )),
        Ok(_) => {}
        Err(e) => out.push(format!("cannot read {}: {e}", installed.display())),
    }
    out
}

/// How long `bao plugin init` may take to fetch the image.
const FETCH_LIMIT: Duration = Duration::from_secs(300);

/// Fetches the plugin from an OCI image with the server's own `bao plugin init`, into
/// `staging` (a folder of the state folder), and returns the binary it extracted,
/// checked against `sha256` by OpenBao itself. The plugin is then installed like a
/// downloaded one: the server's own folder stays root's, with no download at its start.
pub fn fetch(binary: &Path, image: &str, version: &str, sha256: &str, staging: &Path) -> Result<PathBuf, String> {
    let _ = fs::remove_dir_all(staging);
    fs::create_dir_all(staging).map_err(|e| format!("cannot make {}: {e}", staging.display()))?;
    let config = staging.join("fetch.hcl");
    let downloads = staging.join("plugins");
    let text = hcl::to_string(
        &hcl::Body::builder()
            .add_attribute(("plugin_directory", downloads.to_string_lossy().into_owned()))
            .add_block(
                hcl::Block::builder("plugin")
                    .add_label("kms")
                    .add_label("awskms")
                    .add_attribute(("image", image.to_string()))
                    .add_attribute(("version", version.to_string()))
                    .add_attribute(("binary_name", PLUGIN_FILE))
                    .add_attribute(("sha256sum", normal_sha256(sha256)))
                    .build(),
            )
            .build(),
    )
    .expect("an HCL body always formats");
    fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    fs::create_dir_all(&downloads).map_err(|e| format!("cannot make {}: {e}", downloads.display()))?;
    let out = child::output(
        Command::new(binary)
            .arg("plugin")
            .arg("init")
            .arg(format!("-config={}", config.display()))
            .arg(format!("-timeout={}s", FETCH_LIMIT.as_secs())),
        Limits::action(FETCH_LIMIT + Duration::from_secs(10)),
    )
    .map_err(|e| e.to_string())?;
    if !out.status.success() {
        // Its log goes to either stream; its error line says why.
        let said = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let line = said
            .lines()
            .rev()
            .find(|l| l.contains("[ERROR]"))
            .or_else(|| said.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("")
            .trim();
        let why = line.split_once("[ERROR]").map_or(line, |(_, why)| why.trim());
        return Err(format!(
            "`{} plugin init` could not fetch {image}:{version}: {why}. The host needs to reach that registry; \
             or download the plugin yourself and give it as server.kms_plugin",
            binary.display()
        ));
    }
    find_fetched(&downloads).ok_or_else(|| {
        format!(
            "`plugin init` fetched {image}:{version}, but no {PLUGIN_FILE} is in {}: is that the AWS KMS plugin's \
             image? Or download the plugin and give it as server.kms_plugin",
            downloads.display()
        )
    })
}

/// The real file `plugin init` extracted (under `.oci-cache/`, a link to it beside).
fn find_fetched(folder: &Path) -> Option<PathBuf> {
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).ok()?.flatten() {
            let kind = entry.file_type().ok()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() && entry.file_name() == PLUGIN_FILE {
                return Some(entry.path());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(class: u8, machine: u16, kind: u16) -> Vec<u8> {
        let mut h = vec![0x7f, b'E', b'L', b'F', class, 1, 1, 0];
        h.resize(16, 0);
        h.extend(kind.to_le_bytes());
        h.extend(machine.to_le_bytes());
        h.resize(64, 0);
        h
    }

    #[test]
    fn only_a_program_for_this_machine_passes() {
        let dir = tempfile::tempdir().unwrap();
        let check = |bytes: &[u8]| {
            let p = dir.path().join("p");
            fs::write(&p, bytes).unwrap();
            check_executable(&p)
        };
        let ours = this_machine().unwrap();
        check(&elf(2, ours, 2)).unwrap();
        check(&elf(2, ours, 3)).unwrap();
        let other = if ours == 62 { 183 } else { 62 };
        let e = check(&elf(2, other, 2)).unwrap_err();
        assert!(e.contains("built for") && e.contains("linux_"), "{e}");
        assert!(check(&elf(1, ours, 2)).unwrap_err().contains("32-bit"));
        assert!(check(&elf(2, ours, 1)).unwrap_err().contains("not a program"));
        assert!(check(b"#!/bin/sh\necho hi\n").unwrap_err().contains("no ELF header"));
        assert!(check(b"\x7fELF\x02").unwrap_err().contains("too short"));
        assert!(check(b"#!").unwrap_err().contains("no ELF header"));
        // The test's own binary is one.
        check_executable(&std::env::current_exe().unwrap()).unwrap();
    }

    #[test]
    fn checksums_are_sha256sums() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_of(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        use crate::answers::validate_sha256;
        validate_sha256("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD").unwrap();
        assert!(validate_sha256("ba7816bf").is_err());
        assert!(validate_sha256(&"g".repeat(64)).is_err());
        assert_eq!(normal_sha256("sha256:AB"), "ab");
    }

    #[test]
    fn the_installed_copy_is_a_real_0755_file_and_problems_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("download");
        fs::write(&source, elf(2, this_machine().unwrap(), 2)).unwrap();
        fs::set_permissions(&source, fs::Permissions::from_mode(0o600)).unwrap();
        let plugin = KmsPlugin {
            source: source.clone(),
            directory: dir.path().join("a/plugins"),
            write_directory: true,
            sha256: sha256_of(&source).unwrap(),
        };
        let done = install(&plugin).unwrap();
        assert_eq!(
            done,
            Installed {
                made_folder: true,
                wrote: true
            }
        );
        let meta = fs::symlink_metadata(plugin.installed()).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
        assert_eq!(
            fs::metadata(&plugin.directory).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert!(problems(&plugin.installed(), &plugin.sha256).is_empty());
        // Again: nothing to write.
        assert_eq!(
            install(&plugin).unwrap(),
            Installed {
                made_folder: false,
                wrote: false
            }
        );
        // Changed on disk, loosened, or gone: each said with its fix.
        fs::set_permissions(plugin.installed(), fs::Permissions::from_mode(0o777)).unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(plugin.installed())
            .unwrap()
            .write_all(b"x")
            .unwrap();
        let found = problems(&plugin.installed(), &plugin.sha256);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("0777") && found[1].contains("checksums did not match"),
            "{found:?}"
        );
        fs::remove_file(plugin.installed()).unwrap();
        assert!(problems(&plugin.installed(), &plugin.sha256)[0].contains("missing"));
    }

    /// Only a real file, with the checksum, that others cannot change, is kept as it is:
    /// a link to the same bytes, or a file others may write, is replaced by a real copy.
    #[test]
    fn a_link_or_a_loose_file_is_not_in_place_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("download");
        fs::write(&source, elf(2, this_machine().unwrap(), 2)).unwrap();
        let plugin = KmsPlugin {
            source: source.clone(),
            directory: dir.path().join("plugins"),
            write_directory: true,
            sha256: sha256_of(&source).unwrap(),
        };
        assert!(plugin.file_name().starts_with("openbao-plugin-kms-aws-") && plugin.file_name().len() == 35);
        fs::create_dir(&plugin.directory).unwrap();
        std::os::unix::fs::symlink(&source, plugin.installed()).unwrap();
        assert!(!in_place(&plugin.installed(), &plugin.sha256));
        assert!(problems(&plugin.installed(), &plugin.sha256)[0].contains("not a real file"));
        assert_eq!(
            install(&plugin).unwrap(),
            Installed {
                made_folder: false,
                wrote: true
            }
        );
        assert!(fs::symlink_metadata(plugin.installed()).unwrap().file_type().is_file());
        assert!(in_place(&plugin.installed(), &plugin.sha256));
        fs::set_permissions(plugin.installed(), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(!in_place(&plugin.installed(), &plugin.sha256), "not executable");
        fs::set_permissions(plugin.installed(), fs::Permissions::from_mode(0o775)).unwrap();
        assert!(!in_place(&plugin.installed(), &plugin.sha256));
        fs::set_permissions(&plugin.directory, fs::Permissions::from_mode(0o777)).unwrap();
        let found = problems(&plugin.installed(), &plugin.sha256);
        assert!(
            found[0].contains("chmod go-w") && found[1].contains("0775"),
            "{found:?}"
        );
    }

    use std::io::Write;
}
