//! A delaying HTTP proxy in front of moto, for fault tests: it forwards every request at
//! once (so the resource is really made), and can hold the answer of a chosen call for a
//! while, telling the test when that call has reached the emulator.
//!
//! One request per connection (it asks moto to close, and so does its answer), which the
//! SDK's client handles as any server that closes after answering.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Holds the answer of the `nth` (1-based) `action` seen from now on.
struct Rule {
    action: String,
    to_skip: u32,
    hold: Duration,
}

#[derive(Default)]
struct Shared {
    rules: Vec<Rule>,
    /// Every action forwarded, in order.
    seen: Vec<String>,
    /// The action from which on the proxy stops answering.
    cut_on: Option<String>,
    /// Once set, every request is dropped unanswered: the emulator is out of reach.
    cut: bool,
}

pub struct Proxy {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    held: Receiver<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy on a free 127.0.0.1 port in front of `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream_port: u16) -> Proxy {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", std_listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (held_tx, held) = channel();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let accept = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(serve(client, upstream_port, thread_shared.clone(), held_tx.clone()));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Proxy {
            url,
            shared,
            held,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Holds the answer to the `nth` `action` (`CreateKey`, `CreateUser`, …) from now on
    /// for `hold`, after moto has answered it.
    pub fn hold(&self, action: &str, nth: u32, hold: Duration) {
        self.shared.lock().unwrap().rules.push(Rule {
            action: action.to_string(),
            to_skip: nth - 1,
            hold,
        });
    }

    /// Forgets every rule not yet used, and any arrival not yet read.
    pub fn clear(&self) {
        self.shared.lock().unwrap().rules.clear();
        while self.held.try_recv().is_ok() {}
    }

    /// Waits until a held call has reached moto (and been answered by it); returns its action.
    pub fn wait_held(&self, timeout: Duration) -> Option<String> {
        self.held.recv_timeout(timeout).ok()
    }

    /// From the first `action` on (that one included), every request is dropped with no
    /// answer, as when the network to AWS goes down, until [`Proxy::reconnect`].
    pub fn cut_on(&self, action: &str) {
        self.shared.lock().unwrap().cut_on = Some(action.to_string());
    }

    /// From now on, every request is dropped with no answer.
    pub fn cut(&self) {
        self.shared.lock().unwrap().cut = true;
    }

    /// Whether the cut has happened.
    pub fn is_cut(&self) -> bool {
        self.shared.lock().unwrap().cut
    }

    /// Answers again.
    pub fn reconnect(&self) {
        let mut s = self.shared.lock().unwrap();
        s.cut = false;
        s.cut_on = None;
    }

    /// The actions forwarded so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.shared.lock().unwrap().seen.clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The action a request names: `X-Amz-Target: TrentService.CreateKey` for KMS's JSON
/// protocol, the `Action=` form field for IAM's and STS's query protocol.
fn action_of(head: &str, body: &[u8]) -> String {
    for line in head.lines() {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("x-amz-target")
        {
            return value.trim().rsplit('.').next().unwrap_or_default().to_string();
        }
    }
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|field| field.strip_prefix("Action="))
        .unwrap_or("?")
        .to_string()
}

async fn serve(mut client: TcpStream, upstream_port: u16, shared: Arc<Mutex<Shared>>, held: Sender<String>) {
    let Some((head, body)) = read_request(&mut client).await else {
        return;
    };
    let action = action_of(&head, &body);
    let hold = {
        let mut s = shared.lock().unwrap();
        if s.cut || s.cut_on.as_deref() == Some(action.as_str()) {
            // Dropped with no answer: the connection closes under the caller.
            s.cut = true;
            return;
        }
        s.seen.push(action.clone());
        let mut hold = None;
        if let Some(i) = s.rules.iter().position(|r| r.action == action) {
            if s.rules[i].to_skip == 0 {
                hold = Some(s.rules.remove(i).hold);
            } else {
                s.rules[i].to_skip -= 1;
            }
        }
        hold
    };
    // Ask moto to close after answering, so its answer ends where the stream ends.
    let mut request = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            request.push_str(line);
            request.push_str("\r\n");
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
        return;
    };
    if upstream.write_all(request.as_bytes()).await.is_err() || upstream.write_all(&body).await.is_err() {
        return;
    }
    let mut answer = Vec::new();
    if upstream.read_to_end(&mut answer).await.is_err() {
        return;
    }
    if let Some(hold) = hold {
        let _ = held.send(action);
        tokio::time::sleep(hold).await;
    }
    // The client may have given up meanwhile: that is the point of holding.
    let _ = client.write_all(&answer).await;
    let _ = client.shutdown().await;
}

/// One HTTP/1.1 request: its head (up to the blank line) and its body (Content-Length).
async fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
        "the proxy reads Content-Length bodies only"
    );
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}
