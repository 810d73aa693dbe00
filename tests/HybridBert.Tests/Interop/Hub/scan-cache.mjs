// Reads a Hugging Face cache with @huggingface/hub (the Hub's own JavaScript client): its scanCacheDir, and
// downloadFileToCacheDir for a commit, which answers from the cache without the network when the file is there.
// Input (stdin): {"cacheDir": "...", "repo": "org/name", "commit": "...", "path": "config.json"}. Output: JSON.
import { scanCacheDir, downloadFileToCacheDir } from "@huggingface/hub";

const input = JSON.parse(await new Promise(resolve => {
  let text = "";
  process.stdin.on("data", chunk => text += chunk);
  process.stdin.on("end", () => resolve(text));
}));
const scan = await scanCacheDir(input.cacheDir);
const pointer = await downloadFileToCacheDir({
  repo: input.repo, path: input.path, revision: input.commit, cacheDir: input.cacheDir, hubUrl: "http://127.0.0.1:9",
});
console.log(JSON.stringify({
  warnings: scan.warnings.map(w => String(w)),
  repos: scan.repos.map(r => ({
    id: r.id.name, type: r.id.type, size: r.size, files: r.filesCount,
    revisions: r.revisions.map(v => ({ commit: v.commitOid, refs: v.refs, files: v.files.map(f => ({ path: f.path, blob: f.blob.path, size: f.blob.size })) })),
  })),
  pointer,
}));
