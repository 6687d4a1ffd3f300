//! Server: which binary, how to start it, where it listens and stores, TLS.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::answers::{Answers, Launch, validate_file_path, validate_listen, validate_not_blank, validate_tls};
use crate::tui::app::{App, Command, ScreenId};
use crate::tui::form::{self, Form, FormEvent};
use crate::vault::server as flavours;

pub const WHY: &str = "HashiCorp Vault or OpenBao (2.6; 2.7 moved awskms to a plugin), started by systemd, \
in the background by autounseal, or by you. Storage is integrated (raft).";

pub struct State {
    pub form: Form,
}

impl State {
    pub fn new(a: &Answers) -> State {
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
        State { form }
    }
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

/// Whether the binary named can serve, and the note or error the field shows. A
/// missing one is only a note until the operator tries to go on (`strict`).
fn probe_binary(form: &mut Form, strict: bool) -> Result<(), String> {
    let named = form.value("binary");
    let found = flavours::find(named.trim());
    let field = form.field_mut("binary");
    let result = match found {
        Ok(b) if b.has_builtin_awskms() => {
            field.note = Some(format!("found {} at {}", b.version_text(), b.path.display()));
            Ok(())
        }
        Ok(b) => Err(format!(
            "{} has no built-in awskms seal (a plugin since 2.7)",
            b.version_text()
        )),
        Err(crate::vault::VaultError::BinaryMissing { .. }) => {
            Err("not found: install Vault or OpenBao 2.6, give its path, or choose \"none\"".into())
        }
        // Found, but not a server (e.g. /bin/ls): say exactly that.
        Err(other) => Err(other.to_string()),
    };
    if let Err(e) = &result {
        if strict || !e.starts_with("not found") {
            field.note = None;
            field.error = Some(e.clone());
        } else {
            field.note = Some("not found: install it, give its path, or start with \"none\"".into());
        }
    } else {
        field.error = None;
    }
    result
}

pub fn enter(app: &mut App) -> Vec<Command> {
    let _ = probe_binary(&mut app.server.form, false);
    vec![]
}

fn store(app: &mut App) -> bool {
    let f = &app.server.form;
    let s = &mut app.answers.server;
    s.binary = f.value("binary").trim().into();
    s.launch = Launch::ALL[f.choice_index("launch")];
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
    app.answers.init.enabled = s.launch != Launch::None;
    if let Err(e) = validate_tls(&app.answers.server) {
        app.server.form.field_mut("cert").error = Some(e);
        return false;
    }
    true
}

pub fn update(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Esc => app.go(ScreenId::Files),
        KeyCode::Enter => {
            let launch_none = Launch::ALL[app.server.form.choice_index("launch")] == Launch::None;
            let valid = app.server.form.validate_all();
            // After validate_all, which would clear it: the probe's own error.
            // Launch "none" needs no binary, but a wrong one (e.g. /bin/ls) is never right.
            if let Err(e) = probe_binary(&mut app.server.form, true)
                && !(launch_none && e.starts_with("not found"))
            {
                app.server.form.field_mut("binary").error = Some(e);
                app.server.form.focus = 0;
                return vec![];
            }
            if valid && store(app) { app.forward() } else { vec![] }
        }
        _ => {
            let was = app.server.form.focused_id();
            match app.server.form.handle_key(key) {
                FormEvent::Changed("tls_disable" | "listen") => show_tls(&mut app.server.form),
                FormEvent::Moved if was == "binary" => {
                    let _ = probe_binary(&mut app.server.form, false);
                }
                _ => {}
            }
            vec![]
        }
    }
}

pub fn view(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let rest = super::why(frame, area, WHY, t);
    let below = app.server.form.render_on_top(frame, rest, t);
    let hint = match app.server.form.choice_index("launch") {
        0 => "systemd: a drop-in with EnvironmentFile=, then a restart of the unit.",
        1 => "background: autounseal starts it; log and pid go to its state folder.",
        _ => "none: autounseal writes the files and shows the command; no init.",
    };
    super::lines(frame, below, vec![Line::styled(hint, t.dim)]);
}
