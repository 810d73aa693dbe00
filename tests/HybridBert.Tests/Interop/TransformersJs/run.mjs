// Runs transformers.js (@huggingface/transformers) offline on exported model folders, as a user's script would.
// Reads {"jobs": [...]} on standard input and prints one JSON array of results, a result per job.
//   {"task": "tokenize", "model": DIR, "texts": [...], "pairs": [... or null]}  -> [{"input_ids": [...], "token_type_ids": [...]}]
//   {"task": "feature-extraction", "model": DIR, "texts": [...], "pooling": "mean"|"cls", "normalize": bool, "dtype": "fp32"|"q8"}
//     -> [[...], ...] (dtype q8: onnx/model_quantized.onnx; default fp32)
//   {"task": "fill-mask", "model": DIR, "texts": [...], "top_k": k} -> per text the pipeline's answer
//   {"task": "text-classification", "model": DIR, "texts": [...], "pairs": [... or null]} -> per text every label with its score
//     (the pipeline for single texts; for pairs, which the pipeline does not take, its tokenizer and model)
//   {"task": "token-classification", "model": DIR, "texts": [...]} -> per text the pipeline's answer (aggregation "none")
import { env, pipeline, AutoTokenizer, softmax } from '@huggingface/transformers';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';

// Offline, from local folders: as transformers.js documents it, a folder of models and each model by its name.
env.allowRemoteModels = false;
env.allowLocalModels = true;

const spec = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const job of spec.jobs) {
  env.localModelPath = dirname(job.model) + '/';
  const model = basename(job.model);
  if (job.task === 'tokenize') {
    const tokenizer = await AutoTokenizer.from_pretrained(model);
    results.push(job.texts.map((text, i) => {
      const pair = job.pairs ? job.pairs[i] : null;
      const encoded = tokenizer(text, pair === null ? {} : { text_pair: pair });
      return { input_ids: Array.from(encoded.input_ids.data, Number), token_type_ids: Array.from(encoded.token_type_ids.data, Number) };
    }));
  } else if (job.task === 'feature-extraction') {
    const extractor = await pipeline('feature-extraction', model, { dtype: job.dtype ?? 'fp32' });
    const vectors = [];
    for (const text of job.texts) vectors.push((await extractor(text, { pooling: job.pooling, normalize: job.normalize })).tolist()[0]);
    results.push(vectors);
  } else if (job.task === 'fill-mask') {
    const unmasker = await pipeline('fill-mask', model, { dtype: 'fp32' });
    const answers = [];
    for (const text of job.texts) answers.push(await unmasker(text, { top_k: job.top_k }));
    results.push(answers);
  } else if (job.task === 'text-classification') {
    const classifier = await pipeline('text-classification', model, { dtype: 'fp32' });
    const answers = [];
    for (let i = 0; i < job.texts.length; i++) {
      const pair = job.pairs ? job.pairs[i] : null;
      if (pair === null) {
        answers.push(await classifier(job.texts[i], { top_k: null }));
      } else {
        // The pipeline takes single texts only; a pair goes through its tokenizer and model, as transformers.js documents.
        const inputs = classifier.tokenizer(job.texts[i], { text_pair: pair });
        const { logits } = await classifier.model(inputs);
        const scores = softmax(logits.data);
        const id2label = classifier.model.config.id2label;
        answers.push(Array.from(scores, (score, k) => ({ label: id2label[k], score })).sort((a, b) => b.score - a.score));
      }
    }
    results.push(answers);
  } else if (job.task === 'token-classification') {
    const tagger = await pipeline('token-classification', model, { dtype: 'fp32' });
    const answers = [];
    for (const text of job.texts) answers.push(await tagger(text));
    results.push(answers);
  } else {
    throw new Error(`unknown task ${job.task}`);
  }
}
process.stdout.write(JSON.stringify(results));
