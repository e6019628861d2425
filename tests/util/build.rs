//! Building the crate's examples from a test, with the test's own profile
//! and target directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds example `name` with the profile and target directory of this test
/// binary (`target/<profile>/deps/<test>-<hash>`; a no-op when it is up to
/// date) and returns its path.
#[track_caller]
pub fn example(name: &str) -> PathBuf {
    example_with_features(name, &[])
}

/// [`example`] with the crate's `features` on (for examples that require
/// them; the test should have been built with the same features, so the
/// library is not built again).
#[track_caller]
pub fn example_with_features(name: &str, features: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().expect("cannot find the test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("no target/<profile> dir");
    let target_dir = profile_dir.parent().expect("no target dir");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(profile) => profile,
        None => panic!("odd profile directory: {}", profile_dir.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--example",
            name,
            "--profile",
            profile,
            "--target-dir",
        ])
        .arg(target_dir)
        .args(
            (!features.is_empty())
                .then(|| ["--features".to_owned(), features.join(",")])
                .into_iter()
                .flatten(),
        )
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("cannot run cargo");
    assert!(
        output.status.success(),
        "cannot build example {name}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
    );
    profile_dir.join("examples").join(name)
}
