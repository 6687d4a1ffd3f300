//! `scripts/package`, then what the packages hold, checked from the outside (rpm,
//! dpkg-deb) and from the inside: the .deb installed into a Debian root, the binary, man
//! page and bash completion used there, and `dpkg --purge` leaving no file behind.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The most the binary may weigh (scripts/package refuses a larger one).
const MAX_BYTES: u64 = 15_000_000;
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The cache `scripts/test-env` fills: the parent of `AUTOUNSEAL_TOOLS`'s parent (it is
/// `CACHE/tools/bin`), or where test-env puts it by default.
fn cache_dir() -> PathBuf {
    if let Some(tools) = std::env::var_os("AUTOUNSEAL_TOOLS") {
        let tools = PathBuf::from(tools);
        return tools
            .parent()
            .and_then(Path::parent)
            .expect("AUTOUNSEAL_TOOLS is CACHE/tools/bin")
            .to_path_buf();
    }
    if let Some(cache) = std::env::var_os("AUTOUNSEAL_CACHE") {
        return cache.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    base.join("autounseal")
}

/// The target folder this test was built in (it runs as `TARGET/debug/deps/package-…`):
/// scripts/package builds the release there too, so a developer's `cargo test` and
/// scripts/test each reuse their own.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("the test runs from TARGET/debug/deps")
        .to_path_buf()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a failed command said, for a failure message.
fn said(out: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Runs a host command that must succeed; its standard output.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", said(&out));
    text(&out.stdout)
}

/// Fails (never skips) when a tool is missing, naming what installs it.
fn require(command: &str, install: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {command}"))
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(found, "{command} is missing: {install}");
}

/// The cached Debian root seen through an overlay: `lower` is never written; every change
/// lands in `upper`, a temporary folder, and is gone with it.
struct Root {
    lower: PathBuf,
    upper: PathBuf,
    work: PathBuf,
    merged: PathBuf,
    packages: PathBuf,
}

/// Run on the host in a new mount and network namespace (unshare): the overlay, /proc for
/// the programs inside, the packages read-only at /mnt, a tmpfs as the operator's HOME
/// (autounseal writes its log there; an operator's files are not the package's), then the
/// script in the chroot with a clean environment. Every mount belongs to the namespace, and
/// the namespace dies with the script's process: nothing stays mounted, even when a test
/// fails. No network in it: the install and everything after must work offline.
const IN_ROOT: &str = r#"set -eu
lower=$1 upper=$2 work=$3 merged=$4 packages=$5 script=$6
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$merged"
mount -t proc proc "$merged/proc"
mount --bind "$packages" "$merged/mnt"
mount -o remount,bind,ro "$merged/mnt"
mount -t tmpfs -o mode=0755 tmpfs "$merged/home"
exec chroot "$merged" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/home \
  LANG=C.UTF-8 TERM=dumb MANWIDTH=80 /bin/bash -c "$script"
"#;

impl Root {
    fn new(lower: &Path, scratch: &Path, packages: &Path) -> Root {
        let root = Root {
            lower: lower.to_path_buf(),
            upper: scratch.join("upper"),
            work: scratch.join("work"),
            merged: scratch.join("merged"),
            packages: packages.to_path_buf(),
        };
        for dir in [&root.upper, &root.work, &root.merged] {
            std::fs::create_dir(dir).unwrap();
        }
        root
    }

    /// Runs `script` with bash as root in the chroot; its output, whatever its status.
    fn output(&self, script: &str) -> Output {
        Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--net",
                "--",
                "sh",
                "-c",
                IN_ROOT,
                "in-root",
            ])
            .args([&self.lower, &self.upper, &self.work, &self.merged, &self.packages])
            .arg(script)
            .output()
            .unwrap()
    }

    /// Runs `script` in the chroot; it must succeed. Its standard output.
    fn sh(&self, script: &str) -> String {
        let out = self.output(script);
        assert!(out.status.success(), "in the Debian root: {script}\n{}", said(&out));
        text(&out.stdout)
    }

    /// Every entry of the overlay's upper folder: what the root now has that the cached
    /// one has not (created, changed, or a whiteout for a removal), with its type, mode,
    /// owner and, for a file, its size.
    fn changes(&self) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        walk(&self.upper, &self.upper, &mut found);
        found
    }
}

fn walk(top: &Path, dir: &Path, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let name = Path::new("/").join(path.strip_prefix(top).unwrap());
        let kind = if meta.is_dir() {
            "dir"
        } else if meta.is_symlink() {
            "link"
        } else if meta.file_type().is_file() {
            "file"
        } else {
            "other (a whiteout: removed from the root)"
        };
        let size = if meta.is_file() {
            meta.size().to_string()
        } else {
            String::new()
        };
        found.insert(format!(
            "{} {kind} {:o} {}:{} {size}",
            name.display(),
            meta.permissions().mode() & 0o7777,
            meta.uid(),
            meta.gid()
        ));
        if meta.is_dir() {
            walk(top, &path, found);
        }
    }
}

/// The files dpkg and man-db keep about what is installed, which an install and a purge
/// of any package rewrite and which are no file of the package. Each is named exactly;
/// every other change to the root is a failure.
fn bookkeeping(path: &str) -> bool {
    const FILES: &[&str] = &[
        // dpkg's database of what is installed, and its backup: that it forgot the
        // package is checked on its own (`dpkg -s` fails after the purge, and none of the
        // package's files is left in /var/lib/dpkg/info).
        "/var/lib/dpkg/status",
        "/var/lib/dpkg/status-old",
        // dpkg's locks, opened for writing (so copied up) by every run, empty.
        "/var/lib/dpkg/lock",
        "/var/lib/dpkg/lock-frontend",
        "/var/lib/dpkg/triggers/Lock",
        // dpkg's log of the install and the purge.
        "/var/log/dpkg.log",
        // man-db's index of the manual, which its trigger updates when a page comes; a
        // page that goes stays listed until man-db's daily purge (checked on its own).
        "/var/cache/man/index.db",
    ];
    // man-db's trigger, the first time it runs in this root (debootstrap leaves it
    // unrun), makes its cache folders, one per language, each with a CACHEDIR.TAG: for
    // the first man page of any package, not for this one.
    let man_cache_tag = |path: &str| {
        path.strip_prefix("/var/cache/man/").is_some_and(|rest| {
            rest == "CACHEDIR.TAG" || rest.split_once('/').is_some_and(|(_, tag)| tag == "CACHEDIR.TAG")
        })
    };
    let man_cache_folder = |path: &str| {
        path.strip_prefix("/var/cache/man/")
            .is_some_and(|lang| !lang.contains('/') && !lang.contains('.'))
    };
    FILES.contains(&path) || man_cache_tag(path) || man_cache_folder(path)
}

/// A changed entry that is only a copy of a folder of the cached root (the overlay copies
/// a folder up when something is made inside it) with the same mode and owner, and not
/// opaque (an opaque folder hides everything the cached root has in it).
fn copied_up_folder(root: &Root, entry: &str) -> bool {
    let mut words = entry.split(' ');
    let path = words.next().unwrap();
    if words.next() != Some("dir") {
        return false;
    }
    let lower = root.lower.join(path.trim_start_matches('/'));
    let upper = root.upper.join(path.trim_start_matches('/'));
    let (Ok(before), Ok(now)) = (std::fs::symlink_metadata(&lower), std::fs::symlink_metadata(&upper)) else {
        return false;
    };
    let opaque = {
        let name = std::ffi::CString::new(upper.as_os_str().as_encoded_bytes()).unwrap();
        let mut value = [0u8; 1];
        let attr = c"trusted.overlay.opaque";
        // SAFETY: both strings are NUL-terminated and the buffer's length is given.
        let n = unsafe { libc::lgetxattr(name.as_ptr(), attr.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        n == 1 && value[0] == b'y'
    };
    before.is_dir() && before.mode() == now.mode() && (before.uid(), before.gid()) == (now.uid(), now.gid()) && !opaque
}

/// The files (not folders) both packages install, apart from the zsh completion, whose
/// folder differs, and the docs: README.md and docs/*.md as the checkout has them.
fn common_files() -> BTreeSet<String> {
    let mut files: BTreeSet<String> = [
        "/usr/bin/autounseal",
        "/usr/share/man/man1/autounseal.1.gz",
        "/usr/share/bash-completion/completions/autounseal",
        "/usr/share/fish/vendor_completions.d/autounseal.fish",
        "/usr/share/doc/autounseal/examples/answers.example.toml",
        "/usr/share/doc/autounseal/README.md",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for doc in std::fs::read_dir(repo().join("docs")).unwrap() {
        let path = doc.unwrap().path();
        if path.extension() == Some(OsStr::new("md")) {
            let name = path.file_name().unwrap().to_string_lossy();
            files.insert(format!("/usr/share/doc/autounseal/{name}"));
        }
    }
    files
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// `Key : value` of `rpm -qpi`.
fn rpm_field<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

#[test]
fn the_packages_hold_the_binary_its_man_page_and_completions_install_and_purge_to_nothing() {
    let not_root =
        "the packages tier installs the .deb in a chroot and needs root (run it as root, like the systemd tier)";
    assert!(nix::unistd::geteuid().is_root(), "{not_root}");
    require("rpm", "run scripts/test-env (it installs it: apt-get install rpm)");
    require("dpkg-deb", "apt-get install dpkg");
    require("unshare", "apt-get install util-linux");
    let cache = cache_dir();
    let lower = cache.join("debian-root-bookworm");
    assert!(
        lower.join(".pins").is_file(),
        "no Debian root in {}: run scripts/test-env (it makes it once with debootstrap)",
        lower.display()
    );
    let head = run(Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo()));
    let head = head.trim();
    assert_eq!(head.len(), 12, "this test runs in a git checkout");

    // scripts/package, as a release would run it, into a folder of this test's own.
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let target = target_dir();
    let built = run(Command::new(repo().join("scripts/package"))
        .arg(&out_dir)
        .env("AUTOUNSEAL_CACHE", &cache)
        .env("CARGO_TARGET_DIR", &target));
    let printed: Vec<PathBuf> = built.lines().map(PathBuf::from).collect();
    let in_out_dir: BTreeSet<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(printed.iter().cloned().collect::<BTreeSet<_>>(), in_out_dir, "{built}");
    let [deb, rpm] = ["deb", "rpm"].map(|ext| {
        let found: Vec<&PathBuf> = printed
            .iter()
            .filter(|p| p.extension() == Some(OsStr::new(ext)))
            .collect();
        assert_eq!(found.len(), 1, "one .{ext} printed: {built}");
        found[0].clone()
    });
    let size = std::fs::metadata(target.join("release/autounseal")).unwrap().len();
    assert!(size <= MAX_BYTES, "the binary is {size} bytes, over {MAX_BYTES}");

    // The .rpm, read back: exactly these files, the binary executable, its name, version
    // and licence, and the libraries it needs found.
    let mut rpm_files = common_files();
    rpm_files.insert("/usr/share/zsh/site-functions/_autounseal".into());
    assert_eq!(lines(&run(Command::new("rpm").arg("-qpl").arg(&rpm))), rpm_files);
    let modes = run(Command::new("rpm")
        .args(["-qp", "--queryformat", "[%{FILEMODES:perms} %{FILENAMES}\n]"])
        .arg(&rpm));
    for line in modes.lines() {
        let want = if line.ends_with("/usr/bin/autounseal") {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        assert!(line.starts_with(want), "{line}: {modes}");
    }
    let info = run(Command::new("rpm").arg("-qpi").arg(&rpm));
    assert_eq!(rpm_field(&info, "Name"), Some("autounseal"), "{info}");
    assert_eq!(rpm_field(&info, "Version"), Some(VERSION), "{info}");
    assert_eq!(rpm_field(&info, "License"), Some("Apache-2.0"), "{info}");
    let requires = run(Command::new("rpm").arg("-qpR").arg(&rpm));
    assert!(requires.contains("libc.so.6"), "{requires}");

    // The .deb's fields: its version, and dependencies only on what the binary links.
    let field = |name: &str| {
        run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name))
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "autounseal");
    assert_eq!(field("Version"), format!("{VERSION}-1"));
    assert_eq!(field("Section"), "admin");
    assert_eq!(field("Priority"), "optional");
    assert!(field("Maintainer").contains('@'), "{}", field("Maintainer"));
    let description = field("Description");
    assert!(
        description.lines().count() > 2 && description.contains("AWS KMS"),
        "{description}"
    );
    let depends = field("Depends");
    let names: BTreeSet<&str> = depends
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or(""))
        .collect();
    // With the glibc it needs at least (the build machine's symbols), as the .rpm's
    // `libc.so.6(GLIBC_…)` requirements say too.
    assert!(depends.contains("libc6 (>= 2."), "{depends}");
    assert!(requires.contains("libc.so.6(GLIBC_2."), "{requires}");
    assert!(
        names.is_subset(&["libc6", "libgcc-s1"].into()),
        "only the linked libraries: {depends}"
    );

    // Installed into the Debian root, offline.
    let scratch = tempfile::tempdir().unwrap();
    let root = Root::new(&lower, scratch.path(), &out_dir);
    let status = root.output("dpkg -s autounseal");
    assert!(
        !status.status.success(),
        "the cached root has autounseal already: {}",
        said(&status)
    );
    let before = root.changes();
    let deb_name = deb.file_name().unwrap().to_string_lossy();
    root.sh(&format!("dpkg -i /mnt/{deb_name}"));
    let mut deb_files = common_files();
    deb_files.insert("/usr/share/zsh/vendor-completions/_autounseal".into());
    // cargo-deb adds the copyright file Debian's policy asks of every package.
    deb_files.insert("/usr/share/doc/autounseal/copyright".into());
    let listed = root.sh("dpkg -L autounseal | while read -r p; do [ -d \"$p\" ] || echo \"$p\"; done");
    assert_eq!(lines(&listed), deb_files);
    let stat = root.sh("stat -c '%a %U:%G %s' /usr/bin/autounseal");
    let stat: Vec<&str> = stat.split_whitespace().collect();
    assert_eq!(stat[..2], ["755", "root:root"]);
    assert!(stat[2].parse::<u64>().unwrap() <= MAX_BYTES, "{stat:?}");

    // The binary runs there and names the commit it was built from.
    let version = root.sh("autounseal --version");
    assert!(
        version.starts_with(&format!("autounseal {VERSION} (commit {head})")),
        "{version}"
    );
    let regions = root.sh("autounseal regions");
    assert!(regions.lines().any(|l| l.starts_with("us-east-1")), "{regions}");

    // The man page is found by man and renders; it is the binary's own, and so are the
    // completions.
    assert_eq!(
        root.sh("man -w autounseal").trim(),
        "/usr/share/man/man1/autounseal.1.gz"
    );
    assert!(
        root.sh("whatis autounseal").starts_with("autounseal (1)"),
        "man-db's index has the page"
    );
    // -l: rendered from the file, so that man keeps no formatted copy in its cache.
    let page = root.sh("man -P cat -l /usr/share/man/man1/autounseal.1.gz");
    assert!(page.contains("rotate") && page.contains("autounseal"), "{page}");
    assert_eq!(
        root.sh("gzip -dc /usr/share/man/man1/autounseal.1.gz"),
        root.sh("autounseal man"),
        "the installed man page is `autounseal man`"
    );
    for (shell, path) in [
        ("bash", "/usr/share/bash-completion/completions/autounseal"),
        ("zsh", "/usr/share/zsh/vendor-completions/_autounseal"),
        ("fish", "/usr/share/fish/vendor_completions.d/autounseal.fish"),
    ] {
        assert_eq!(
            root.sh(&format!("cat {path}")),
            root.sh(&format!("autounseal completions {shell}")),
            "{path} is `autounseal completions {shell}`"
        );
    }
    assert_eq!(
        root.sh("cat /usr/share/doc/autounseal/examples/answers.example.toml"),
        std::fs::read_to_string(repo().join("assets/answers.example.toml")).unwrap()
    );

    // Bash completes `autounseal ro` to `rotate` as a shell would: bash-completion loads
    // the script on demand from its folder, then the function it registered completes.
    let completed = root.sh(r#"source /usr/share/bash-completion/bash_completion
complete -p autounseal >/dev/null 2>&1 && { echo "loaded before it was asked for" >&2; exit 1; }
_completion_loader autounseal
spec=$(complete -p autounseal)
function=$(echo "$spec" | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$function" ] || { echo "no function in: $spec" >&2; exit 1; }
COMP_WORDS=(autounseal ro); COMP_CWORD=1; COMP_LINE='autounseal ro'; COMP_POINT=13
"$function" autounseal ro autounseal
echo "${COMPREPLY[@]}""#);
    assert_eq!(completed.trim(), "rotate");

    // Purged: dpkg forgets it, and the root is as it was, but for bookkeeping.
    root.sh("dpkg --purge autounseal");
    let status = root.output("dpkg -s autounseal");
    assert!(
        !status.status.success(),
        "dpkg still knows the package: {}",
        said(&status)
    );
    assert_eq!(
        root.sh("ls /var/lib/dpkg/info | grep -c '^autounseal\\.' || true")
            .trim(),
        "0"
    );
    let found = root.output("man -w autounseal");
    assert!(!found.status.success(), "man still finds the page: {}", said(&found));
    // Debian's man-db trigger updates its index without purging (`mandb -p`): the page
    // stays listed until man-db's daily job purges what is gone, as it does here.
    root.sh("runuser -u man -- mandb --quiet");
    let whatis = root.output("whatis autounseal");
    assert!(
        !whatis.status.success(),
        "man-db's index still has the page: {}",
        said(&whatis)
    );
    let left: Vec<String> = root
        .changes()
        .difference(&before)
        .filter(|entry| !bookkeeping(entry.split(' ').next().unwrap()))
        .filter(|entry| !copied_up_folder(&root, entry))
        .cloned()
        .collect();
    assert!(
        left.is_empty(),
        "left behind (or changed) by install and purge: {left:#?}"
    );
}
