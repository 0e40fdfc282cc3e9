//! The audit journal: what is appended is read back in order and rebuilds the OMS; a last entry
//! cut short by a crash is left out and appending goes on after the last whole one; a corrupt
//! entry or a file that is not a journal is refused by name.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use execution::gateway::VenueReport;
use execution::journal::{self, Entry, JournalError, Writer};
use execution::oms::{Replacement, Report};
use execution::reports_out::applied_record;
use execution::{Oms, OrderState};
use risk::{NewOrder, Side};
use shm_layout::records::report_kind;

const ONE: i64 = 1_000_000_000;

fn path(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickrail-journal-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("execution.journal");
    let _ = std::fs::remove_file(&path);
    path
}

fn day() -> Vec<Entry> {
    let buy =
        NewOrder { id: 1, venue: 1, instrument: 1, side: Side::Buy, price: 100 * ONE, quantity: 10 * ONE };
    let sell = NewOrder { id: 2, side: Side::Sell, price: 101 * ONE, ..buy };
    let report = |id, report| Entry::Report(VenueReport { id, report, order: None });
    vec![
        Entry::Sent(buy),
        Entry::Sent(sell),
        report(1, Report::Accepted),
        Entry::Report(VenueReport { id: 2, report: Report::Accepted, order: Some(sell) }),
        report(1, Report::Fill { quantity: 4 * ONE, price: 100 * ONE }),
        Entry::ReplaceRequested(1, Replacement { id: 3, price: 99 * ONE, quantity: 10 * ONE }),
        report(1, Report::Replaced),
        Entry::CancelRequested(2),
        report(2, Report::Canceled),
        report(3, Report::Fill { quantity: 6 * ONE, price: 99 * ONE }),
        Entry::Sequenced(VenueReport { id: 2, report: Report::CancelRejected, order: None }, 0, 42),
    ]
}

fn write(path: &Path, entries: &[Entry]) {
    let (mut writer, contents) = Writer::open(path, 256).unwrap();
    assert!(contents.entries.is_empty());
    for entry in entries {
        writer.append(entry).unwrap();
    }
    writer.sync().unwrap();
}

#[test]
fn every_entry_is_read_back_in_order_and_rebuilds_the_orders_and_positions() {
    let path = path("round");
    write(&path, &day());
    let contents = journal::read(&path).unwrap();
    assert_eq!((contents.entries.as_slice(), contents.torn), (day().as_slice(), 0));
    let mut oms = Oms::new(&[1], 3, 16);
    journal::rebuild(&mut oms, &contents.entries).unwrap();
    assert_eq!(oms.order(3).unwrap().state, OrderState::Filled);
    assert_eq!(
        oms.order(2).unwrap().state,
        OrderState::Canceled,
        "a late expiry is refused: rebuild says so"
    );
    let position = oms.positions().venue(0, 1);
    assert_eq!((position.quantity, position.average_price), (10 * ONE, 99_400_000_000));
    assert_eq!((journal::delivered(&contents.entries, 0), journal::delivered(&contents.entries, 1)), (42, 1));
}

#[test]
fn a_last_entry_cut_short_by_a_crash_is_left_out_and_appending_goes_on_after_the_last_whole_one() {
    let path = path("torn");
    write(&path, &day());
    let written = journal::read(&path).unwrap();
    assert_eq!((written.entries.len(), written.torn), (day().len(), 0), "the zeros grown into are no tear");
    OpenOptions::new().write(true).open(&path).unwrap().set_len(written.end - 3).unwrap();
    let contents = journal::read(&path).unwrap();
    assert_eq!(contents.entries.len(), day().len() - 1);
    assert!(contents.torn > 0);

    let (mut writer, held) = Writer::open(&path, 256).unwrap();
    assert_eq!(held.entries.len(), day().len() - 1, "reopening keeps every whole entry");
    writer.append(&day()[10]).unwrap();
    writer.sync().unwrap();
    let again = journal::read(&path).unwrap();
    assert_eq!((again.entries, again.torn), (day(), 0));
}

/// Page faults this thread has taken so far.
fn faults() -> i64 {
    // SAFETY: `getrusage` fills the zeroed struct it is given and reads nothing else.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
        usage.ru_minflt + usage.ru_majflt
    }
}

#[test]
fn appends_after_prepare_take_no_page_fault_and_the_file_grows_ahead_of_them() {
    let path = path("prepared");
    let (mut writer, _) = Writer::open(&path, 256).unwrap();
    let entries = day();
    // The first append runs its code for the first time (its pages fault in): not counted.
    writer.append(&entries[0]).unwrap();
    let mut written = vec![entries[0]];
    // Past the first growth step (1 MiB) and back: preparing never changes what is read.
    for round in 0..3_000 {
        if round % 500 == 250 {
            // Written back: the kernel makes the pages read-only again to see the next write.
            writer.sync().unwrap();
        }
        writer.prepare().unwrap();
        if round % 100 == 0 {
            let end = journal::read(&path).unwrap().end;
            let length = std::fs::metadata(&path).unwrap().len();
            assert!(length >= end + (64 << 10), "round {round}: 64 KiB ready past the end");
        }
        let before = faults();
        for entry in &entries {
            writer.append(entry).unwrap();
        }
        assert_eq!(faults() - before, 0, "round {round}: an append took a page fault");
        written.extend_from_slice(&entries);
    }
    writer.sync().unwrap();
    let contents = journal::read(&path).unwrap();
    assert!(contents.end > 1 << 20, "the file grew on the way");
    assert_eq!((contents.entries, contents.torn), (written, 0));
}

#[test]
fn a_corrupt_entry_and_a_file_that_is_not_a_journal_are_refused_by_name() {
    let path = path("corrupt");
    write(&path, &day());
    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(8 + 8 + 3)).unwrap(); // inside the first entry's payload
    file.write_all(&[0xFF]).unwrap();
    let err = journal::read(&path).unwrap_err();
    assert!(
        matches!(err, JournalError::Corrupt { offset: 8, what: "its checksum does not match", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("execution.journal"), "{err}");

    std::fs::write(&path, b"not a journal").unwrap();
    assert!(matches!(journal::read(&path), Err(JournalError::NotAJournal(_))));
    assert!(matches!(Writer::open(&path, 256), Err(JournalError::NotAJournal(_))), "never appended to");
}

#[test]
fn an_append_a_kill_stopped_before_its_length_is_the_end_and_is_cut_off() {
    let path = path("killed");
    write(&path, &day());
    let end = journal::read(&path).unwrap().end;
    // What a process killed inside `append` leaves: a checksum and payload, no length yet.
    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(end + 4)).unwrap();
    file.write_all(&[0xAB; 12]).unwrap();
    let contents = journal::read(&path).unwrap();
    assert_eq!((contents.entries.len(), contents.end), (day().len(), end));
    assert!(contents.torn > 0, "the stray bytes are reported");

    let (mut writer, _) = Writer::open(&path, 256).unwrap();
    writer.append(&day()[0]).unwrap();
    drop(writer); // no sync: a process that dies leaves what it appended in the page cache
    let again = journal::read(&path).unwrap();
    assert_eq!((again.entries.len(), again.torn), (day().len() + 1, 0));
}

#[test]
fn rebuilding_shows_each_report_once_with_the_records_the_loop_sent_for_them() {
    let path = path("seen");
    write(&path, &day());
    let entries = journal::read(&path).unwrap().entries;
    // What the loop sent, report by report, as it applied them.
    let mut live = Oms::new(&[1], 3, 16);
    let mut sent = Vec::new();
    for entry in &entries {
        match entry {
            Entry::Report(report) | Entry::Sequenced(report, ..) => {
                let id = live.original_of(report.id).unwrap_or(report.id);
                let before = live.order(id).copied();
                execution::gateway::apply(&mut live, report).unwrap();
                sent.extend(applied_record(&live, report.report, id, before.as_ref(), 0));
            }
            other => journal::rebuild(&mut live, std::slice::from_ref(other)).unwrap(),
        }
    }
    let mut rebuilt = Oms::new(&[1], 3, 16);
    let mut seen = Vec::new();
    journal::rebuild_seeing_reports(&mut rebuilt, &entries, |oms, report, id, before| {
        seen.extend(applied_record(oms, report, id, before, 0));
    })
    .unwrap();
    assert_eq!(seen.len(), 7, "one record for each report in the day");
    assert_eq!(seen, sent);
    let replaced = seen.iter().find(|r| r.kind == report_kind::REPLACED).unwrap();
    assert_eq!((replaced.order_id, replaced.replacement_id, replaced.position), (1, 3, 4 * ONE));
}
