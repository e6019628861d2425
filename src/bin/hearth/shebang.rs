//! GNU parallel's `--shebang` and `--shebang-wrap`: hearth as the
//! interpreter of a script. The kernel hands an interpreter the words
//! after `#!PROGRAM` as one argument, then the script's path (and the
//! script's own arguments), so `main.rs` unfolds them here before the
//! options are read:
//!
//! - `#!/usr/bin/parallel --shebang -r echo`: the script's lines after
//!   the first are the inputs (`--skip-first-line -a SCRIPT -r echo`);
//! - `#!/usr/bin/parallel --shebang-wrap -k /usr/bin/perl`: the script
//!   runs once per argument it was given (`-k /usr/bin/perl SCRIPT :::
//!   ARGS...`).
//!
//! `hearth map --shebang ...` (`#!/usr/bin/hearth map --shebang ...`) is
//! the same.

use std::ffi::OsString;

/// Unfolds a `--shebang` or `--shebang-wrap` in `args[at]` (the words the
/// kernel passed as one) into the command line it stands for; leaves
/// other command lines as they are.
///
/// # Errors
///
/// Words with an unclosed quote, or no script after them, said with what
/// to do.
pub fn unfold(args: &mut Vec<OsString>, at: usize) -> Result<(), String> {
    let Some(text) = args
        .get(at)
        .and_then(|word| word.to_str())
        .map(str::to_owned)
    else {
        return Ok(());
    };
    let text = text.as_str();
    let (wrap, rest) = if let Some(rest) = ["--shebang-wrap", "--shebangwrap"]
        .iter()
        .find_map(|flag| strip_flag(text, flag))
    {
        (true, rest)
    } else if let Some(rest) = ["--shebang", "--hashbang"]
        .iter()
        .find_map(|flag| strip_flag(text, flag))
    {
        (false, rest)
    } else {
        return Ok(());
    };
    let words: Vec<OsString> = shlex::split(rest)
        .ok_or_else(|| {
            format!("the #! line's options {rest:?} have an unclosed quote; close the quote")
        })?
        .into_iter()
        .map(OsString::from)
        .collect();
    let after: Vec<OsString> = args.split_off(at + 1);
    let _ = args.pop();
    let Some((script, script_args)) = after.split_first() else {
        return Err(format!(
            "{} takes the script's path after its options, as the kernel gives it from a #! \
             line: #!/usr/bin/parallel {text}",
            if wrap { "--shebang-wrap" } else { "--shebang" }
        ));
    };
    if wrap {
        // The script once per argument.
        args.extend(words);
        args.push(script.clone());
        if !script_args.is_empty() {
            args.push(":::".into());
            args.extend(script_args.iter().cloned());
        }
    } else {
        // The script's lines are the inputs, its first (the #! line) aside.
        args.extend(["--skip-first-line".into(), "-a".into(), script.clone()]);
        args.extend(words);
        args.extend(script_args.iter().cloned());
    }
    Ok(())
}

/// `text` without `flag` and the spaces after it, if it begins with that
/// flag (and not a longer option).
fn strip_flag<'a>(text: &'a str, flag: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(flag)?;
    (rest.is_empty() || rest.starts_with(' ')).then(|| rest.trim_start())
}

#[cfg(test)]
mod tests {
    use super::unfold;

    fn unfolded(args: &[&str], at: usize) -> Result<Vec<String>, String> {
        let mut args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        unfold(&mut args, at)?;
        Ok(args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect())
    }

    #[test]
    fn shebang_lines_become_command_lines() {
        assert_eq!(
            unfolded(
                &["hearth", "map", "--shebang -r --colsep ' ' echo", "./s"],
                2
            )
            .unwrap(),
            [
                "hearth",
                "map",
                "--skip-first-line",
                "-a",
                "./s",
                "-r",
                "--colsep",
                " ",
                "echo"
            ]
        );
        assert_eq!(
            unfolded(
                &[
                    "hearth",
                    "map",
                    "--shebang-wrap -k /usr/bin/perl",
                    "./s",
                    "a",
                    "b"
                ],
                2
            )
            .unwrap(),
            [
                "hearth",
                "map",
                "-k",
                "/usr/bin/perl",
                "./s",
                ":::",
                "a",
                "b"
            ]
        );
        // Not a shebang: as it is.
        assert_eq!(
            unfolded(&["hearth", "map", "--shebangs", "x"], 2).unwrap(),
            ["hearth", "map", "--shebangs", "x"]
        );
        assert!(
            unfolded(&["hearth", "map", "--shebang echo"], 2)
                .unwrap_err()
                .contains("the script's path")
        );
        assert!(
            unfolded(&["hearth", "map", "--shebang 'echo", "./s"], 2)
                .unwrap_err()
                .contains("unclosed quote")
        );
    }
}
