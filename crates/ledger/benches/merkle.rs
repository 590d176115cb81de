//! Criterion benchmarks of the pure Merkle algorithms (no storage).
//!
//! ```text
//! cargo bench -p hegui-ledger --bench merkle
//! HEGUI_BENCH_LEAVES=1000000 cargo bench -p hegui-ledger --bench merkle   # sizes to test
//! ```
//!
//! For each tree size (default 1M and 10M leaves, built once in memory):
//! - `inclusion_proof/memory`: proof over a `MemoryTree` (every node one vector lookup);
//! - `inclusion_proof/dry_run+map`: what `Store::inclusion_proof` does besides its one SQL
//!   query — the dry run that finds the needed nodes, and the proof over a `NodeMap`;
//! - `verify_inclusion`: RFC 9162 verification of such a proof;
//! - `consistency_proof/memory` from a random older size.
//!
//! Leaves are drawn at random from a fixed list of 4096, so the caches see what a server
//! answering proofs for random records would see. Also `append/memory_tree` (per leaf).

use std::fmt::Debug;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use hegui_ledger::{
    consistency_proof, inclusion_proof, leaf_hash, nodes_needed, verify_inclusion, Hash,
    MemoryTree, NodeMap, NodeSource,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn ok<T, E: Debug>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e:?}"),
    }
}

fn sizes() -> Vec<u64> {
    std::env::var("HEGUI_BENCH_LEAVES")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse().ok())
        .collect()
}

fn label(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn tree_of(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        ok(t.append(leaf_hash(&i.to_be_bytes())));
    }
    t
}

fn proofs(c: &mut Criterion) {
    for size in sizes() {
        let tree = tree_of(size);
        let root = tree.root();
        let mut rng = StdRng::seed_from_u64(6962);
        let picks: Vec<u64> = (0..4096).map(|_| rng.gen_range(0..size)).collect();
        let olds: Vec<u64> = (0..4096).map(|_| rng.gen_range(1..size)).collect();
        let with_proofs: Vec<(u64, Hash, Vec<Hash>)> = picks
            .iter()
            .map(|&i| {
                let h = tree.leaf(i).unwrap_or_default();
                (i, h, ok(inclusion_proof(&tree, i, size)))
            })
            .collect();
        let name = label(size);

        let mut g = c.benchmark_group("inclusion_proof");
        let mut k = 0usize;
        g.bench_function(BenchmarkId::new("memory", &name), |b| {
            b.iter(|| {
                k = (k + 1) & 4095;
                ok(inclusion_proof(&tree, picks[k], size))
            })
        });
        g.bench_function(BenchmarkId::new("dry_run+map", &name), |b| {
            b.iter(|| {
                k = (k + 1) & 4095;
                let i = picks[k];
                let needed = ok(nodes_needed(|s| inclusion_proof(s, i, size)));
                // Stands in for the one SQL query: look the nodes up in the tree.
                let map = NodeMap(
                    needed
                        .iter()
                        .map(|&(l, x)| ((l, x), ok(tree.node(l, x))))
                        .collect(),
                );
                ok(inclusion_proof(&map, i, size))
            })
        });
        g.finish();

        let mut g = c.benchmark_group("verify_inclusion");
        g.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                k = (k + 1) & 4095;
                let (i, h, p) = &with_proofs[k];
                ok(verify_inclusion(h, *i, size, p, &root))
            })
        });
        g.finish();

        let mut g = c.benchmark_group("consistency_proof");
        g.bench_function(BenchmarkId::new("memory", &name), |b| {
            b.iter(|| {
                k = (k + 1) & 4095;
                ok(consistency_proof(&tree, olds[k], size))
            })
        });
        g.finish();
    }
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    let n = 100_000u64;
    g.throughput(Throughput::Elements(n));
    let hashes: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    g.bench_function("memory_tree_100k", |b| {
        b.iter_batched(
            MemoryTree::new,
            |mut t| {
                for h in &hashes {
                    ok(t.append(*h));
                }
                t
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = proofs, append
}
criterion_main!(benches);
