//! File writers for everything autounseal leaves on disk: atomic (a temporary file in
//! the same folder, then a rename), created with their final mode from the first byte,
//! never replacing an existing file without a backup and the operator's yes.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};

/// The Unix user and group that should own a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: Uid,
    pub gid: Gid,
}

impl Owner {
    /// `user:group` (the group named like the user when none is given) when that user
    /// exists and we run as root (only root can give files away); otherwise `None` and
    /// files stay with the current user.
    pub fn service_account(name: &str, group: Option<&str>) -> Option<Owner> {
        if !Uid::effective().is_root() {
            return None;
        }
        let user = nix::unistd::User::from_name(name).ok().flatten()?;
        let gid = nix::unistd::Group::from_name(group.unwrap_or(name))
            .ok()
            .flatten()
            .map(|g| g.gid)
            .unwrap_or(user.gid);
        Some(Owner { uid: user.uid, gid })
    }

    /// root, with the service account's group: for a file the server reads but must
    /// not rewrite (its config, with its seal stanza). `None` unless we run as root.
    pub fn root_with_group_of(name: &str, group: Option<&str>) -> Option<Owner> {
        let service = Owner::service_account(name, group)?;
        Some(Owner {
            uid: Uid::from_raw(0),
            gid: service.gid,
        })
    }

    /// Who owns `path` now.
    pub fn of(path: &Path) -> Option<Owner> {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(path).ok()?;
        Some(Owner {
            uid: Uid::from_raw(meta.uid()),
            gid: Gid::from_raw(meta.gid()),
        })
    }
}

/// What to do when the target already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Stop with [`FileError::Exists`]: the operator has not said yes.
    Refuse,
    /// Copy the old file aside (same mode), then replace it.
    BackupAndReplace,
    /// Replace it with no backup: only for autounseal's own state files.
    Replace,
}

#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub mode: u32,
    pub owner: Option<Owner>,
    pub existing: Existing,
}

impl WriteOptions {
    /// 0600, owned by the service user when possible.
    pub fn secret(existing: Existing, owner: Option<Owner>) -> WriteOptions {
        WriteOptions {
            mode: 0o600,
            owner,
            existing,
        }
    }

    /// A file the server reads and the operator may own (its config): an existing file
    /// keeps its owner and mode, only its bytes change (an operator's `root:vault 0640`
    /// stays so, and the service user never gains the power to rewrite its own seal);
    /// a new one is 0640 for `new_owner`.
    pub fn config_at(path: &Path, existing: Existing, new_owner: Option<Owner>) -> WriteOptions {
        match fs::metadata(path) {
            Ok(meta) if meta.is_file() => WriteOptions {
                mode: meta.permissions().mode() & 0o7777,
                owner: Owner::of(path).filter(|_| Uid::effective().is_root()),
                existing,
            },
            _ => WriteOptions {
                mode: 0o640,
                owner: new_owner,
                existing,
            },
        }
    }
}

/// A file that was written, and where its predecessor went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "{path} already exists; autounseal replaces it only after you agree (a backup is kept): answer yes, or pass --yes"
    )]
    Exists { path: PathBuf },
    #[error("{path} is a folder; give a file name")]
    IsDir { path: PathBuf },
    #[error("{ancestor} is not a folder, so {path} cannot be made there: choose a path inside a folder")]
    NotInAFolder { path: PathBuf, ancestor: PathBuf },
    #[error("cannot create the folder {path}: {source}. Create it yourself or choose another path")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}. Run as a user who may write there (often root), or choose another path")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot back up {path}: {source}")]
    Backup { path: PathBuf, source: std::io::Error },
    #[error("cannot give {path} to its owner: {source}")]
    Chown { path: PathBuf, source: nix::Error },
}

/// What a path holds now, for inline checks before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathCheck {
    /// Nothing there; the folder exists and is writable.
    New,
    /// Nothing there; these folders will be created.
    NewWithFolders(PathBuf),
    /// A file is there and will be backed up before it is replaced.
    WillBackUp,
    /// As `WillBackUp`, and the file is an operator's Vault config (not one autounseal
    /// wrote): as the config, it is kept with only its seal stanza changed. Said by the
    /// caller that knows configs (`vault::config::Base`), never by [`check_writable`].
    OperatorsConfig,
}

/// Checks, without writing, that `path` can be written: used by the wizard as the
/// operator types and by `apply` before anything is created in AWS.
pub fn check_writable(path: &Path) -> Result<PathCheck, FileError> {
    if path.is_dir() {
        return Err(FileError::IsDir { path: path.into() });
    }
    let dir = parent_dir(path);
    // The first folder that exists is the one we must be able to write.
    let existing = nearest_existing(&dir);
    // `/etc/hostname/vault.hcl`: no folder can be made under a file.
    if !existing.is_dir() {
        return Err(FileError::NotInAFolder {
            path: path.into(),
            ancestor: existing,
        });
    }
    let writable = nix::unistd::access(&existing, nix::unistd::AccessFlags::W_OK).is_ok();
    if !writable {
        return Err(FileError::Write {
            path: path.into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
    }
    if path.exists() {
        Ok(PathCheck::WillBackUp)
    } else if existing != dir {
        Ok(PathCheck::NewWithFolders(dir))
    } else {
        Ok(PathCheck::New)
    }
}

/// The folder writing `path` would create (with any missing above it), if any.
pub fn folders_to_create(path: &Path) -> Option<PathBuf> {
    let dir = parent_dir(path);
    (!dir.exists()).then_some(dir)
}

/// `path` itself if it exists, else its nearest ancestor that does: where creating
/// `path` would start, and so what must be writable.
pub fn nearest_existing(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    while !existing.exists() {
        match existing.parent() {
            Some(p) => existing = p.to_path_buf(),
            None => break,
        }
    }
    existing
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates missing folders (0755; a secret's protection is its own mode).
pub fn ensure_dir(dir: &Path) -> Result<(), FileError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|source| FileError::CreateDir {
            path: dir.into(),
            source,
        })
}

/// Writes `contents` to `path` atomically with `opts`.
pub fn write_atomic(path: &Path, contents: &[u8], opts: WriteOptions) -> Result<Written, FileError> {
    if path.is_dir() {
        return Err(FileError::IsDir { path: path.into() });
    }
    let dir = parent_dir(path);
    ensure_dir(&dir)?;
    let backup = if path.exists() {
        match opts.existing {
            Existing::Refuse => return Err(FileError::Exists { path: path.into() }),
            Existing::BackupAndReplace => Some(back_up(path)?),
            Existing::Replace => None,
        }
    } else {
        None
    };
    let write_err = |source| FileError::Write {
        path: path.into(),
        source,
    };
    // tempfile creates the file 0600 with O_EXCL; the mode is set before any byte lands.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        ))
        .permissions(fs::Permissions::from_mode(opts.mode))
        .tempfile_in(&dir)
        .map_err(write_err)?;
    // The umask may have narrowed the mode given above: set it exactly.
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(opts.mode)).map_err(write_err)?;
    if let Some(owner) = opts.owner {
        nix::unistd::fchown(tmp.as_file(), Some(owner.uid), Some(owner.gid)).map_err(|source| FileError::Chown {
            path: path.into(),
            source,
        })?;
    }
    tmp.write_all(contents).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    // The rename is durable only once the folder itself is synced.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(Written {
        path: path.into(),
        backup,
    })
}

/// Copies `path` to `path.bak-YYYYMMDDTHHMMSSZ` with the same mode and owner (never
/// clobbering an earlier backup) and returns the backup's path.
pub fn back_up(path: &Path) -> Result<PathBuf, FileError> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let err = |source| FileError::Backup {
        path: path.into(),
        source,
    };
    let meta = fs::metadata(path).map_err(err)?;
    let mode = meta.permissions().mode() & 0o7777;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    for n in 0.. {
        let suffix = if n == 0 { String::new() } else { format!(".{n}") };
        let candidate = path.with_file_name(format!("{name}.bak-{stamp}{suffix}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&candidate)
        {
            Ok(mut out) => {
                // The backup is what a rollback or destroy puts back: the owner too.
                if Uid::effective().is_root() {
                    use std::os::unix::fs::MetadataExt;
                    let (uid, gid) = (Uid::from_raw(meta.uid()), Gid::from_raw(meta.gid()));
                    nix::unistd::fchown(&out, Some(uid), Some(gid)).map_err(|e| err(e.into()))?;
                }
                let bytes = fs::read(path).map_err(err)?;
                out.write_all(&bytes).map_err(err)?;
                out.sync_all().map_err(err)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(err(e)),
        }
    }
    unreachable!("an unbounded search ends with a free name")
}

/// Removes a file autounseal wrote; a missing file is not an error.
pub fn remove_if_present(path: &Path) -> std::io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode_of(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_with_mode_and_creates_folders() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/vault.env");
        assert_eq!(
            check_writable(&path).unwrap(),
            PathCheck::NewWithFolders(dir.path().join("a/b"))
        );
        let w = write_atomic(
            &path,
            b"X=1\n",
            WriteOptions {
                mode: 0o600,
                owner: None,
                existing: Existing::Refuse,
            },
        )
        .unwrap();
        assert_eq!(w.backup, None);
        assert_eq!(fs::read_to_string(&path).unwrap(), "X=1\n");
        assert_eq!(mode_of(&path), 0o600);
        // no temporary file is left beside it
        assert_eq!(fs::read_dir(dir.path().join("a/b")).unwrap().count(), 1);
    }

    #[test]
    fn a_path_under_a_file_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hostname");
        fs::write(&file, "h\n").unwrap();
        for path in [file.join("vault.hcl"), file.join("a/b/vault.hcl")] {
            let err = check_writable(&path).unwrap_err();
            assert!(
                matches!(&err, FileError::NotInAFolder { ancestor, .. } if *ancestor == file),
                "{err}"
            );
            assert!(err.to_string().contains("is not a folder"), "{err}");
        }
        assert_eq!(fs::read_to_string(&file).unwrap(), "h\n");
    }

    #[test]
    fn refuses_to_replace_without_yes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.env");
        fs::write(&path, "old").unwrap();
        let opts = WriteOptions {
            mode: 0o600,
            owner: None,
            existing: Existing::Refuse,
        };
        let err = write_atomic(&path, b"new", opts).unwrap_err();
        assert!(matches!(err, FileError::Exists { .. }));
        assert!(err.to_string().contains("--yes"));
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(check_writable(&path).unwrap(), PathCheck::WillBackUp);
    }

    #[test]
    fn backs_up_then_replaces_keeping_the_backup_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.env");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let opts = WriteOptions {
            mode: 0o600,
            owner: None,
            existing: Existing::BackupAndReplace,
        };
        let first = write_atomic(&path, b"new", opts).unwrap();
        let backup = first.backup.unwrap();
        assert_eq!(fs::read_to_string(&backup).unwrap(), "old");
        assert_eq!(mode_of(&backup), 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        // a second backup in the same second gets its own name
        let second = write_atomic(&path, b"newer", opts).unwrap();
        assert_ne!(second.backup.unwrap(), backup);
    }

    #[test]
    fn gives_the_file_to_its_owner() {
        // Only root may give a file away; anyone else keeps their own files.
        if !Uid::effective().is_root() {
            assert_eq!(Owner::service_account("nobody", None), None);
            return;
        }
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owned");
        let owner = Owner {
            uid: nobody.uid,
            gid: nobody.gid,
        };
        write_atomic(
            &path,
            b"x",
            WriteOptions {
                mode: 0o600,
                owner: Some(owner),
                existing: Existing::Refuse,
            },
        )
        .unwrap();
        assert_eq!(fs::metadata(&path).unwrap().uid(), nobody.uid.as_raw());
    }

    #[test]
    fn a_folder_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(check_writable(dir.path()), Err(FileError::IsDir { .. })));
    }
}
