//! Process checks shared by the remote pool tests: no worker, ssh client
//! or other child may outlive a test (see `runner.rs`).

use std::fs;
use std::process;

/// The `/proc/PID/stat` lines of this process's children.
pub fn children() -> Vec<String> {
    let me = process::id().to_string();
    fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
                .filter(|stat| {
                    stat.rsplit_once(") ")
                        .is_some_and(|(_, rest)| rest.split(' ').nth(1) == Some(me.as_str()))
                })
                .collect()
        })
        .unwrap_or_default()
}
