//! Test hosts: several machines on this one, for what crosses a network.
//!
//! A [`Network`] is a network namespace of its own, held by a sleeping process, with a
//! bridge at `10.231.0.254/24` and no other link: no route leaves it, so nothing a test
//! runs can reach any address but the test hosts' (the instance metadata address
//! included). The test itself, moto and every client of the test live in it (a thread
//! enters it with `setns`, see [`Network::run`]).
//!
//! A [`Host`] is a real systemd as PID 1 of its own PID, mount and network namespace
//! (`tests/support/test-host`, a copy of `../shared/tools/systemd-sandbox` with a network
//! of its own), a veth into the bridge with the address `10.231.0.N`, and private copies
//! of the folders a packaged server writes: `/etc` (so `/etc/vault.d`, `/etc/openbao`,
//! `/etc/systemd/system` and the service user), `/opt` (`/opt/vault`, `/opt/openbao`),
//! `/var/lib` and `/usr/local/bin`, all under the test's temporary folder. Stopping it
//! ends its processes, its namespaces and its veth; dropping the network ends the bridge.
//! Both happen in `Drop`, so also when a test fails.

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::isolate;

/// The test network's first three octets; hosts are `.11`, `.12`, …; the observer `.254`.
pub const SUBNET: &str = "10.231.0";

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/test-host")
}

fn checked(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test network: a namespace with the bridge, where the test runs its side.
pub struct Network {
    holder: Child,
}

impl Network {
    /// The observer's address on the bridge: moto listens there, and the test's clients
    /// call the hosts from there.
    pub const OBSERVER: &'static str = "10.231.0.254";

    pub fn new() -> Network {
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "sleep", "infinity"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The holder dies with the test's thread, even when the test process is killed.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let holder = cmd.spawn().expect("unshare starts");
        let network = Network { holder };
        // unshare execs sleep once the namespace is made: wait for it.
        let own = std::fs::read_link("/proc/self/ns/net").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_link(network.ns_path()).ok().as_ref() == Some(&own) {
            assert!(std::time::Instant::now() < deadline, "unshare --net made no namespace");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        network.ip(&format!(
            "link set lo up\n\
             link add br0 type bridge\n\
             addr add {}/24 dev br0\n\
             link set br0 up",
            Self::OBSERVER
        ));
        network
    }

    fn pid(&self) -> String {
        self.holder.id().to_string()
    }

    /// The process that holds the network (it goes with it).
    pub fn holder_pid(&self) -> u32 {
        self.holder.id()
    }

    fn ns_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.holder.id()))
    }

    /// `ip` commands (one per line, as `ip -batch` reads them) in the network.
    fn ip(&self, batch: &str) {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.pid(), "-n", "ip", "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(batch.as_bytes()).unwrap();
        checked(
            &format!("ip -batch in the test network:\n{batch}"),
            child.wait_with_output().unwrap(),
        );
    }

    /// Runs `f` on a thread inside the network, with a runtime of its own: everything it
    /// starts (moto, clients, child processes) is in the network too.
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let ns = std::fs::File::open(self.ns_path()).unwrap();
        std::thread::scope(|s| {
            let thread = s.spawn(move || {
                // Namespaces are per thread: this one moves, the test's thread stays.
                let entered = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            });
            thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Stops the hosts and the network, and checks that each is gone (their processes,
/// so their namespaces, veths and bridge) and that no process mentions `dir`.
pub fn tear_down(network: Network, hosts: Vec<Host>, dir: &Path) {
    let pids: Vec<u32> = hosts.iter().map(Host::pid).chain([network.holder_pid()]).collect();
    drop(hosts);
    drop(network);
    let left: Vec<u32> = pids
        .into_iter()
        .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    assert_eq!(left, Vec::<u32>::new(), "a host or the network is left");
    assert_eq!(
        super::processes_mentioning(&dir.to_string_lossy()),
        Vec::<String>::new()
    );
}

/// Runs `future` to its end on a runtime of the calling thread (inside [`Network::run`]).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// One test host, stopped (with everything in it) when dropped.
pub struct Host {
    pid: String,
    /// `10.231.0.N`.
    pub ip: String,
    /// The host's private folders (`etc`, `opt`, …) as the machine sees them.
    pub root: PathBuf,
}

impl Host {
    /// Boots host `n` (address `10.231.0.{10+n}`) on `network`, its private folders
    /// under `dir`.
    pub fn boot(network: &Network, n: u8, dir: &Path) -> Host {
        let pid = checked("test-host start", Command::new(tool()).arg("start").output().unwrap())
            .trim()
            .to_string();
        let host = Host {
            pid,
            ip: format!("{SUBNET}.{}", 10 + n),
            root: dir.to_path_buf(),
        };
        network.ip(&format!(
            "link add host{n} type veth peer name eth0 netns {pid}\n\
             link set host{n} master br0 up",
            pid = host.pid
        ));
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        host.sh(&format!(
            "ip addr add {ip}/24 dev eth0 && ip link set eth0 up\n\
             cp -a /etc {root}/etc && mount --bind {root}/etc /etc\n\
             mkdir -p {root}/opt {root}/var-lib && mount --bind {root}/opt /opt\n\
             mount --bind {root}/var-lib /var/lib\n\
             mount -t tmpfs -o mode=755 tmpfs /usr/local/bin",
            ip = host.ip,
            root = dir.display(),
        ));
        host
    }

    /// The host's systemd, seen from outside (its namespaces go with it).
    pub fn pid(&self) -> u32 {
        self.pid.parse().expect("test-host printed its pid")
    }

    /// A shell script on the host (`sh -ec`); panics when it fails.
    pub fn sh(&self, script: &str) -> String {
        checked(&format!("{} $ {script}", self.ip), self.try_sh(script))
    }

    /// A shell script on the host: its output, whatever its exit status.
    pub fn try_sh(&self, script: &str) -> Output {
        Command::new(tool())
            .args(["run", &self.pid, "sh", "-ec", script])
            .output()
            .unwrap()
    }

    /// `autounseal ARGS` on the host, as its operator in an SSH session would run it:
    /// state in `state`, moto's test keys, nothing else of this machine.
    pub fn autounseal(&self, state: &Path, args: &[&str]) -> Output {
        self.autounseal_with_stdin(state, args, None)
    }

    /// As [`Host::autounseal`], with `stdin` as its standard input.
    pub fn autounseal_with_stdin(&self, state: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(tool());
        isolate(&mut cmd, state);
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(["run", &self.pid, env!("CARGO_BIN_EXE_autounseal")])
            .args(args)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// The wizard on the host (`autounseal ARGS`), for a pseudo-terminal: the
    /// environment of [`super::pty::wizard_command`], as an operator's SSH session.
    pub fn wizard(&self, home: &Path, args: &[&str]) -> portable_pty::CommandBuilder {
        let mut cmd = super::pty::wizard_command(home);
        let argv = cmd.get_argv_mut();
        argv.splice(0..0, [tool().into(), "run".into(), self.pid.clone().into()]);
        argv.extend(args.iter().map(Into::into));
        cmd
    }

    /// The host's path `path` (absolute, as the host sees it) as the machine sees it,
    /// for the folders the host has privately.
    pub fn file(&self, path: &str) -> PathBuf {
        let relative = path.trim_start_matches('/');
        let relative = relative
            .strip_prefix("var/lib/")
            .map(|rest| format!("var-lib/{rest}"))
            .unwrap_or_else(|| relative.to_string());
        self.root.join(relative)
    }

    /// The last lines of a unit's journal on the host, for a failure's message.
    pub fn journal(&self, unit: &str) -> String {
        let out = self.try_sh(&format!("journalctl -u {unit} --no-pager -n 60"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = Command::new(tool()).args(["stop", &self.pid]).output();
    }
}

/// A CA of the test's own, and certificates it issues for hosts' addresses.
pub struct Pki {
    ca: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

impl Pki {
    pub fn new() -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "autounseal test CA");
        let ca = params.self_signed(&ca_key).unwrap();
        Pki { ca, ca_key }
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A certificate and its key (PEM) for `ip`, and loopback (a server's own calls).
    pub fn issue(&self, ip: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![ip.to_string(), "127.0.0.1".to_string()]).unwrap();
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}
