//! GNU parallel's Perl replacement strings, `{= perl =}` and `{=N perl
//! =}`: the code runs with `$_` set to the input (to the N-th input
//! with a position), and what it leaves in `$_` replaces the string,
//! shell-quoted unless the code called `uq()`.
//!
//! The code is run by one `perl` process for the whole run, started when
//! the command is read (so that code that does not compile is a usage
//! error before any job runs), fed each value over a pipe and answering
//! with the result. It sees what GNU parallel's code sees: `$_`, `@arg`
//! (the job's inputs, `$arg[1]` the first), `$job->seq()` and `seq()`,
//! `total_jobs()`, `Q()` (quoted as `{}` is), `pQ()` (quoted for Perl's
//! double quotes), `uq()`, `skip()` (the job is not run), `hash()`, the
//! dates and times (`yyyy_mm_dd()`, `yyyymmddhhmmss()` and their kin),
//! and any variable it keeps between jobs. The slot
//! (`slot()`, `$job->slot()`) is not there: it is chosen after the
//! command line is made. Code that dies stops the run with its message.
//!
//! What the code prints goes to stderr (GNU parallel's goes to its
//! stdout), and what it reads from stdin is nothing: the pipes to `perl`
//! carry the requests and answers alone. Requests and answers are
//! binary-safe: lengths as 32-bit big-endian
//! numbers (Perl's `N`) before the bytes.

/// Perl that compiles the code in `$expr` (given by the user as part of
/// a column's value: `--bin`, `--shard`, `--group-by`) into `$code`, a
/// sub working on `$_`, or dies saying that it does not compile; `$code`
/// stays undefined without code. The start of those options' Perl
/// programs, after they took their arguments.
macro_rules! compile_value_code {
    () => {
        r#"
my $code;
if (length $expr) {
    $code = eval("sub { no strict; no warnings; $expr }");
    defined $code or die "hearth map: the Perl code does not compile: $@";
}
"#
    };
}
pub(crate) use compile_value_code;

use std::cell::Cell;
use std::io::{BufReader, BufWriter, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// The Perl side: compiles the codes given after `--`, then answers
/// requests until its stdin ends. A request is the code's index, the
/// job's sequence number, the number of jobs (0 if not known), the job's
/// inputs and the value; an answer is `V` (quote it), `U` (as it is),
/// `S` (`skip()` was called), or `E` (an error), and the bytes.
const SCRIPT: &str = r#"
use strict;
use warnings;
no warnings 'once';
# The requests and answers keep pipes of their own: the code's own reads
# get nothing and its own prints go to stderr.
open(my $requests, '<&', \*STDIN) or die "perl: $!\n";
open(my $answers, '>&', \*STDOUT) or die "perl: $!\n";
open(STDIN, '<', '/dev/null') or die "perl: $!\n";
open(STDOUT, '>&', \*STDERR) or die "perl: $!\n";
STDOUT->autoflush(1);
binmode $requests; binmode $answers;
my ($seq, $total, $unquoted, $skipped) = (0, 0, 0, 0);
our @arg;
our $job = bless {}, 'HearthJob';
sub HearthJob::seq { return $seq }
sub HearthJob::slot { die "the slot is not known when the command line is made: use {%} or \$PARALLEL_JOBSLOT in the command\n" }
sub seq { return $seq }
sub slot { HearthJob::slot() }
sub total_jobs { return $total }
sub uq { $unquoted = 1; return }
sub skip { $skipped = 1; return }
sub pQ { my $v = shift; $v =~ s/[\\\"\$\@]/\\$&/g if defined $v; return $v }
sub hash { require B; return B::hash(@_) }
use POSIX ();
sub yyyy_mm_dd_hh_mm_ss { POSIX::strftime("%Y-%m-%dT%H:%M:%S", localtime(time())) }
sub yyyy_mm_dd_hh_mm { POSIX::strftime("%Y-%m-%dT%H:%M", localtime(time())) }
sub yyyy_mm_dd { POSIX::strftime("%Y-%m-%d", localtime(time())) }
sub hh_mm_ss { POSIX::strftime("%H:%M:%S", localtime(time())) }
sub hh_mm { POSIX::strftime("%H:%M", localtime(time())) }
sub yyyymmddhhmmss { POSIX::strftime("%Y%m%d%H%M%S", localtime(time())) }
sub yyyymmddhhmm { POSIX::strftime("%Y%m%d%H%M", localtime(time())) }
sub yyyymmdd { POSIX::strftime("%Y%m%d", localtime(time())) }
sub hhmmss { POSIX::strftime("%H%M%S", localtime(time())) }
sub hhmm { POSIX::strftime("%H%M", localtime(time())) }
sub Q {
    my $v = shift;
    $v = '' unless defined $v;
    return "''" if $v eq '';
    return $v if $v =~ m{\A[A-Za-z0-9_.+/-]+\z};
    (my $q = "'" . join(q('"'"'), split(/'/, $v, -1)) . "'") =~ s/\A''//;
    $q =~ s/''\z//;
    return $q;
}
sub answer {
    my ($kind, $bytes) = @_;
    # Bytes, whatever the code made of its string, and nothing added to
    # the print by the code's own $\ or $,.
    utf8::encode($bytes) unless utf8::downgrade($bytes, 1);
    local ($\, $,);
    print $answers $kind, pack('N', length($bytes)), $bytes;
    $answers->flush();
}
sub take { my $n = shift; my $got = ''; while (length($got) < $n) { my $r = read($requests, $got, $n - length($got), length($got)); exit 0 unless $r } return $got }
my @subs;
for my $code (@ARGV) {
    my $sub = eval "package main; no strict; no warnings; sub { $code\n;; }";
    unless ($sub) { my $err = $@; $err =~ s/ at \(eval \d+\) line \d+.*//s; answer('E', "{=$code=}: $err"); exit 0 }
    push @subs, $sub;
}
answer('V', '');
while (1) {
    my ($index, $s, $t, $n) = unpack('N4', take(16));
    my @fields = map { take(unpack('N', take(4))) } 1 .. $n;
    my $value = take(unpack('N', take(4)));
    ($seq, $total, $unquoted, $skipped) = ($s, $t, 0, 0);
    local @arg = (undef, @fields);
    local $_ = $value;
    my $ok = eval { $subs[$index]->(); 1 };
    if (!$ok) { my $err = $@; $err =~ s/ at \(eval \d+\) line \d+.*//s; chomp $err; answer('E', $err); next }
    answer($skipped ? 'S' : $unquoted ? 'U' : 'V', defined $_ ? $_ : '');
}
"#;

thread_local! {
    /// A code called `skip()` since [`take_skipped`] was last called on
    /// this thread (a command line is made on one thread).
    static SKIPPED: Cell<bool> = const { Cell::new(false) };
}

/// True if a code called `skip()` on this thread since the last call.
pub fn take_skipped() -> bool {
    SKIPPED.with(Cell::take)
}

/// The longest value sent to or taken from `perl` (64 MiB): far more
/// than a command line takes (128 KiB an argument on Linux).
const MAX_VALUE: usize = 64 << 20;

/// The running `perl` and the codes it compiled.
pub struct PerlExprs {
    codes: Vec<String>,
    process: Mutex<Process>,
}

struct Process {
    child: Child,
    input: BufWriter<ChildStdin>,
    output: BufReader<ChildStdout>,
    /// The first error, kept until asked for.
    error: Option<String>,
}

impl std::fmt::Debug for PerlExprs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerlExprs")
            .field("codes", &self.codes)
            .finish_non_exhaustive()
    }
}

/// A value as the code left it.
pub struct Answer {
    /// What the code left in `$_`, as bytes (UTF-8 for wide characters).
    pub value: Vec<u8>,
    /// `uq()` was called: the value goes in as it is.
    pub unquoted: bool,
}

/// A request's numbers and inputs.
pub struct Job<'a> {
    /// The job's sequence number (`$job->seq()`).
    pub seq: usize,
    /// The number of jobs, 0 if not known (`total_jobs()`).
    pub total: usize,
    /// The job's inputs (`@arg`, from `$arg[1]`).
    pub fields: &'a [Vec<u8>],
}

impl PerlExprs {
    /// Starts `perl` with `codes` and waits for them to compile.
    ///
    /// # Errors
    ///
    /// `perl` cannot be started (with what to install), or a code does
    /// not compile (with Perl's message).
    pub fn start(codes: Vec<String>) -> Result<PerlExprs, String> {
        let mut child = Command::new("perl")
            .arg("-e")
            .arg(SCRIPT)
            .arg("--")
            .args(&codes)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| {
                format!(
                    "{{= perl =}} needs perl, which cannot be started: {err}; install it \
                     (Debian: apt-get install perl-base)"
                )
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("perl was started without its pipes".to_owned());
        };
        let mut process = Process {
            child,
            input: BufWriter::new(stdin),
            output: BufReader::new(stdout),
            error: None,
        };
        let _compiled = process.answer()?;
        Ok(PerlExprs {
            codes,
            process: Mutex::new(process),
        })
    }

    /// The codes, in the order of their `{= =}`.
    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    /// True if any code asks for the number of jobs.
    pub fn needs_total(&self) -> bool {
        self.codes.iter().any(|code| code.contains("total_jobs"))
    }

    /// Runs code `index` on `value` for `job`: the value it leaves. After
    /// an error (kept for [`PerlExprs::error`]) every value is empty.
    pub fn eval(&self, index: usize, value: &[u8], job: &Job<'_>) -> Answer {
        let mut process = self
            .process
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let empty = Answer {
            value: Vec::new(),
            unquoted: false,
        };
        if process.error.is_some() {
            return empty;
        }
        match process.ask(index, value, job) {
            Ok(answer) => answer,
            Err(err) => {
                process.error = Some(err);
                empty
            }
        }
    }

    /// The first error, if there was one.
    pub fn error(&self) -> Option<String> {
        self.process
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .error
            .clone()
    }
}

impl Process {
    fn ask(&mut self, index: usize, value: &[u8], job: &Job<'_>) -> Result<Answer, String> {
        let too_long = job.fields.iter().map(Vec::len).chain([value.len()]).max();
        if too_long.is_some_and(|len| len > MAX_VALUE) {
            return Err(format!(
                "{{= perl =}}: an input of more than {MAX_VALUE} bytes; pass inputs that large \
                 through files"
            ));
        }
        let number = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
        let mut request = Vec::with_capacity(32 + value.len());
        for n in [index, job.seq, job.total, job.fields.len()] {
            request.extend_from_slice(&number(n));
        }
        for bytes in job.fields.iter().map(Vec::as_slice).chain([value]) {
            request.extend_from_slice(&number(bytes.len()));
            request.extend_from_slice(bytes);
        }
        self.input
            .write_all(&request)
            .and_then(|()| self.input.flush())
            .map_err(|err| format!("{{= perl =}}: perl went away: {err}"))?;
        self.answer()
    }

    /// Reads one answer; `E` is an error with Perl's message.
    fn answer(&mut self) -> Result<Answer, String> {
        let mut head = [0u8; 5];
        self.output.read_exact(&mut head).map_err(|err| {
            format!("{{= perl =}}: perl ended without an answer ({err}); see its message above")
        })?;
        let len = usize::try_from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]))
            .unwrap_or(usize::MAX);
        if len > MAX_VALUE {
            return Err(format!(
                "{{= perl =}}: a value of {len} bytes, more than {MAX_VALUE}, more than a command \
                 line takes"
            ));
        }
        let mut value = vec![0; len];
        self.output
            .read_exact(&mut value)
            .map_err(|err| format!("{{= perl =}}: perl's answer was cut short: {err}"))?;
        match head[0] {
            b'V' => Ok(Answer {
                value,
                unquoted: false,
            }),
            b'U' => Ok(Answer {
                value,
                unquoted: true,
            }),
            b'S' => {
                SKIPPED.with(|skipped| skipped.set(true));
                Ok(Answer {
                    value,
                    unquoted: false,
                })
            }
            _ => Err(String::from_utf8_lossy(&value).into_owned()),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Nothing more to ask: perl is not needed, whatever it is doing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
