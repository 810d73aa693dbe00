using System.Text.Json;
using System.Text.Json.Nodes;
using HybridBert.Text;

namespace HybridBert.Interop;

/// <summary>
/// The tokenizer files of a Hugging Face folder, for our tokenizer (<see cref="BertTokenizer"/>): <c>vocab.txt</c>;
/// <c>tokenizer.json</c>, the fast-tokenizer file that Hugging Face's Rust <c>tokenizers</c>, transformers'
/// <c>AutoTokenizer</c> and transformers.js load (BERT normalizer, BERT pre-tokenizer, WordPiece, the
/// <c>[CLS] A [SEP]</c> / <c>[CLS] A [SEP] B [SEP]</c> post-processor with token type ids 0 and 1, the five special
/// tokens as added tokens); <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c>. Written from the
/// format's documentation and bert-base-uncased's own files; the tests check the ids against the Rust library and
/// transformers.js.
/// </summary>
public static class TokenizerFiles
{
    /// <summary>Writes the four files into <paramref name="folder"/>.</summary>
    /// <param name="lowercase">As the vocabulary was trained: lowercase and strip accents (uncased), or neither (cased).</param>
    /// <param name="modelMaxLength">The longest input in tokens (the model's position table).</param>
    public static void Write(string folder, Vocabulary vocabulary, bool lowercase, int modelMaxLength)
    {
        vocabulary.Save(Path.Combine(folder, ModelLayout.Vocab));
        File.WriteAllText(Path.Combine(folder, ModelLayout.TokenizerJson), TokenizerJson(vocabulary, lowercase));
        File.WriteAllText(Path.Combine(folder, ModelLayout.TokenizerConfig), new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer", ["do_lower_case"] = lowercase, ["strip_accents"] = null, ["tokenize_chinese_chars"] = true,
            ["model_max_length"] = modelMaxLength, ["clean_up_tokenization_spaces"] = true,
            ["unk_token"] = Vocabulary.Unk, ["sep_token"] = Vocabulary.Sep, ["pad_token"] = Vocabulary.Pad,
            ["cls_token"] = Vocabulary.Cls, ["mask_token"] = Vocabulary.Mask,
        }.ToJsonString(Indented));
        File.WriteAllText(Path.Combine(folder, ModelLayout.SpecialTokens), new JsonObject
        {
            ["unk_token"] = Vocabulary.Unk, ["sep_token"] = Vocabulary.Sep, ["pad_token"] = Vocabulary.Pad,
            ["cls_token"] = Vocabulary.Cls, ["mask_token"] = Vocabulary.Mask,
        }.ToJsonString(Indented));
    }

    /// <summary>Where <c>tokenizer train</c> puts the <c>tokenizer.json</c> of a vocabulary written to <paramref name="vocabPath"/>:
    /// beside it, <c>tokenizer.json</c> for a <c>vocab.txt</c> (the pair a Hugging Face folder holds), else
    /// <c>NAME.tokenizer.json</c> for <c>NAME.txt</c>.</summary>
    public static string JsonBeside(string vocabPath)
    {
        var stem = Path.GetFileNameWithoutExtension(vocabPath);
        return Path.Combine(Path.GetDirectoryName(Path.GetFullPath(vocabPath))!,
            stem == "vocab" ? ModelLayout.TokenizerJson : $"{stem}.{ModelLayout.TokenizerJson}");
    }

    /// <summary><c>tokenizer.json</c> for <paramref name="vocabulary"/>: the vocabulary in id order, as the format keeps it.</summary>
    public static string TokenizerJson(Vocabulary vocabulary, bool lowercase)
    {
        static JsonObject Special(string token, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = token, ["type_id"] = typeId } };
        static JsonObject Sequence(string id, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        var specials = Vocabulary.SpecialTokens.Select(t => (Token: t, Id: vocabulary[t])).OrderBy(s => s.Id).ToList();
        var vocab = new JsonObject();
        for (var i = 0; i < vocabulary.Count; i++) vocab[vocabulary.Tokens[i]] = i;
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(specials.Select(s => (JsonNode)new JsonObject
            {
                ["id"] = s.Id, ["content"] = s.Token, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            }).ToArray()),
            ["normalizer"] = new JsonObject
            {
                ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = null,
                    ["lowercase"] = lowercase,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special(Vocabulary.Cls, 0), Sequence("A", 0), Special(Vocabulary.Sep, 0)),
                ["pair"] = new JsonArray(Special(Vocabulary.Cls, 0), Sequence("A", 0), Special(Vocabulary.Sep, 0), Sequence("B", 1),
                    Special(Vocabulary.Sep, 1)),
                ["special_tokens"] =
                    new JsonObject(new[] { Vocabulary.Cls, Vocabulary.Sep }.Select(t => KeyValuePair.Create(t, (JsonNode?)new JsonObject
                {
                    ["id"] = t, ["ids"] = new JsonArray(vocabulary[t]), ["tokens"] = new JsonArray(t),
                }))),
            },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = Vocabulary.Unk, ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100,
                ["vocab"] = vocab,
            },
        };
        return json.ToJsonString(Indented);
    }

    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
