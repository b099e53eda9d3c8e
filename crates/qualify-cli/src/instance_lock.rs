//! One `qualify serve` per SQLite file. SQLite itself would let a second server open the file
//! and serve beside the first: each with its own writer thread, its own group commits and its
//! own vetting worker. `serve` therefore holds an advisory lock on `<database>.lock` for the
//! life of the process and writes its pid into it; a second `serve` on the same file finds the
//! lock taken and refuses to start, naming the holder.
//!
//! The lock is the operating system's (`flock` on Unix): it goes away with the process however
//! it ends, `kill -9` included, so a restart after a crash takes it again. The file itself stays
//! (removing it on exit would let two processes lock two different files of the same name).
//! Only `serve` takes it: `qualify admin backup` reads the database while the server runs.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Held while `serve` runs; the lock is released when it is dropped or the process ends.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file of a database file: `qualify.db` → `qualify.db.lock`, next to it. An existing
/// database is found through symbolic links, as SQLite does, so two names of one file share one
/// lock.
pub fn lock_path(database: &Path) -> PathBuf {
    let database = database
        .canonicalize()
        .unwrap_or_else(|_| database.to_owned());
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the lock of the SQLite database `url` names; `None` for PostgreSQL and in-memory
/// databases, which need none. Fails, naming the holder's pid and the lock file, when another
/// process holds it.
pub fn acquire(url: &str) -> anyhow::Result<Option<InstanceLock>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(None);
    }
    let Some(database) = qualify_store::sqlite::database_file(url)? else {
        return Ok(None);
    };
    let path = lock_path(&database);
    // Not truncated on open: the holder's pid must stay readable for the one refused.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                pid if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("process {pid}")
                }
                _ => "another process".to_owned(),
            };
            bail!(
                "the database {} is in use: {holder} holds its lock file {}. \
                 Only one qualify serve may use a SQLite file; stop that one first, or use \
                 PostgreSQL to run several instances",
                database.display(),
                path.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            // A file system without locks (some network file systems): serve anyway, but say so.
            tracing::warn!(
                lock_file = %path.display(),
                error = %e,
                "cannot lock the database's lock file; a second qualify serve on this database \
                 would not be refused"
            );
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush())
        .with_context(|| format!("writing the pid into the lock file {}", path.display()))?;
    Ok(Some(InstanceLock { _file: file, path }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_file_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("q.db").display());
        let first = acquire(&url).unwrap().expect("a file database is locked");
        assert!(first.path.ends_with("q.db.lock"), "{:?}", first.path);
        let held = std::fs::read_to_string(&first.path).unwrap();
        assert_eq!(held.trim(), std::process::id().to_string());
        // `File::try_lock` locks per open file, so a second open in this process conflicts too.
        let err = acquire(&url).unwrap_err().to_string();
        assert!(
            err.contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("q.db.lock"), "{err}");
        drop(first);
        assert!(acquire(&url).unwrap().is_some(), "free again once dropped");
    }

    #[test]
    fn memory_and_postgres_databases_take_no_lock() {
        assert!(acquire("sqlite::memory:").unwrap().is_none());
        assert!(acquire("postgres://u@localhost/db").unwrap().is_none());
    }
}
