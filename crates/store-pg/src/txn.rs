//! What every write transaction on PostgreSQL does first and uses throughout:
//! begin, the writers' lock, the counters in `meta`, id ranges, binary `COPY`.

use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::store::{Pg, Result};

/// The key of the advisory lock every writer holds for its transaction.
const WRITE_LOCK: i64 = 0x6169_626f_6d64_6201;

/// A write transaction, READ COMMITTED whatever the database's default:
/// its statements must see what the writer before it committed, after the
/// writers' lock (a REPEATABLE READ snapshot would be taken before the wait).
pub(crate) async fn begin(client: &mut tokio_postgres::Client) -> Result<Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
        .start()
        .await
        .pg()
}

/// Waits for the writers of every process before this one: held until the
/// transaction ends.
pub(crate) async fn lock_writers(txn: &Transaction<'_>) -> Result<()> {
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
        .await
        .pg()?;
    Ok(())
}

/// A `meta` counter as this transaction sees it (0 when never set).
pub(crate) async fn meta_value(txn: &Transaction<'_>, key: &str) -> Result<u64> {
    let row = txn
        .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
        .await
        .pg()?;
    Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
}

/// Raises a `meta` counter by one, creating it when absent.
pub(crate) async fn raise_counter(txn: &Transaction<'_>, key: &str) -> Result<()> {
    txn.execute(
        "INSERT INTO meta (key, value) VALUES ($1, 1) \
         ON CONFLICT (key) DO UPDATE SET value = meta.value + 1",
        &[&key],
    )
    .await
    .pg()?;
    Ok(())
}

/// Hands out `count` ids from the counter `key`; the first of them.
pub(crate) async fn reserve(txn: &Transaction<'_>, key: &str, count: usize) -> Result<u64> {
    let count = count as i64;
    let r = txn
        .query_one(
            "UPDATE meta SET value = value + $1 WHERE key = $2 RETURNING value - $1",
            &[&count, &key],
        )
        .await
        .pg()?;
    Ok(r.get::<_, i64>(0) as u64)
}

pub(crate) async fn copy_in(
    txn: &Transaction<'_>,
    sql: &str,
    types: &[Type],
    rows: impl Iterator<Item = Vec<Box<dyn ToSql + Sync + Send>>>,
) -> Result<()> {
    let sink = txn.copy_in(sql).await.pg()?;
    let writer = BinaryCopyInWriter::new(sink, types);
    let mut writer = std::pin::pin!(writer);
    for row in rows {
        let refs: Vec<&(dyn ToSql + Sync)> =
            row.iter().map(|v| &**v as &(dyn ToSql + Sync)).collect();
        writer.as_mut().write(&refs).await.pg()?;
    }
    writer.finish().await.pg()?;
    Ok(())
}
