using System.Text;
using HybridBert.FineTuning;

namespace HybridBert.Tests.FineTuning;

/// <summary>Each GLUE task read from small files in that task's real layout (rows as in the distribution).</summary>
public sealed class GlueReaderTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-glue-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Task(string name, Dictionary<string, string> files, bool bom = false)
    {
        var folder = Path.Combine(root, name);
        Directory.CreateDirectory(folder);
        foreach (var (file, content) in files)
            File.WriteAllText(Path.Combine(folder, file), content.Replace("|", "\t"), new UTF8Encoding(bom));
        return folder;
    }

    private static TaskData Load(string name, string folder) => TaskData.Load(new TaskSpec { Name = "glue/" + name, DataDir = folder });

    [Fact]
    public void Cola_reads_its_headerless_train_and_dev_files()
    {
        var folder = Task("CoLA", new()
        {
            ["train.tsv"] = "gj04|1||Our friends won't buy this analysis, let alone the next one we propose.\ngj04|0|*|They drank the pub.\n",
            ["dev.tsv"] = "gj04|1||The sailors rode the breeze clear of the rocks.\n",
        });
        var task = Load("cola", folder);
        Assert.Equal("They drank the pub.", task.Train[1].Text);
        Assert.Equal(["0", "1"], task.Labels);
        Assert.Equal(["mcc"], task.Metrics);
    }

    [Fact]
    public void Sst2_mrpc_with_bom_and_quotes_qnli_rte_wnli()
    {
        var sst = Load("sst-2",
            Task("SST-2",
            new() { ["train.tsv"] = "sentence|label\nhide new secretions from the parental units |0\ncontains no wit |1\n",
            ["dev.tsv"] = "sentence|label\nit 's a charming journey |1\n" }));
        Assert.Equal("contains no wit ", sst.Train[1].Text);

        var mrpc = Load("mrpc", Task("MRPC", new()
        {
            ["train.tsv"] =
                "Quality|#1 ID|#2 ID|#1 String|#2 String\n1|702876|702977|Amrozi accused his brother , whom he called \" the witness \" " +
                ", of deliberately distorting his evidence .|Referring to him as only \" the witness \" , Amrozi accused his brother of " +
                "deliberately distorting his evidence .\n0|2108705|2108831|Yucaipa owned Dominick 's before selling the chain to Safeway " +
                "in 1998 for $ 2.5 billion .|Yucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for $ 1.8 " +
                "billion in 1998 .\n",
            ["dev.tsv"] =
                "Quality|#1 ID|#2 ID|#1 String|#2 String\n1|1355540|1355592|He said the foodservice pie business doesn 't fit .|The " +
                "foodservice pie business does not fit .\n",
        }, bom: true));
        Assert.Contains("\" the witness \"", mrpc.Train[0].Text);   // quotes are text, not CSV quoting
        Assert.StartsWith("Referring", mrpc.Train[0].Pair);
        Assert.Equal(["f1", "accuracy"], mrpc.Metrics);

        foreach (var (name, header, row) in new[]
                 {
                     ("qnli", "index|question|sentence|label",
                         "0|When did the third Digimon series begin?|Unlike the two seasons before it, the third season is written.|not_entailment"),
                     ("rte", "index|sentence1|sentence2|label",
                         "0|No Weapons of Mass Destruction Found in Iraq Yet.|Weapons of Mass Destruction Found in Iraq.|not_entailment"),
                     ("wnli", "index|sentence1|sentence2|label", "0|I stuck a pin through a carrot.|The carrot has a hole.|1"),
                 })
        {
            var task = Load(name, Task(name.ToUpperInvariant(), new() { ["train.tsv"] = $"{header}\n{row}\n", ["dev.tsv"] = $"{header}\n{row}\n" }));
            Assert.Single(task.Train);
            Assert.NotNull(task.Train[0].Pair);
        }
    }

    [Fact]
    public void Stsb_is_regression_on_the_score_column()
    {
        const string header = "index|genre|filename|year|old_index|source1|source2|sentence1|sentence2|score";
        var task = Load("sts-b", Task("STS-B", new()
        {
            ["train.tsv"] =
                $"{header}\n0|main-captions|MSRvid|2012test|0001|none|none|A plane is taking off.|An air plane is taking " +
                "off.|5.000\n1|main-captions|MSRvid|2012test|0004|none|none|A man is playing a large flute.|A man is playing a flute.|3.800\n",
            ["dev.tsv"] =
                $"{header}\n0|main-captions|MSRvid|2012test|0000|none|none|A man with a hard hat is dancing.|A man wearing a hard hat is " +
                "dancing.|5.000\n",
        }));
        Assert.True(task.Regression);
        Assert.Equal(3.8f, task.Target(task.Train[1]));
        Assert.Equal(["pearson", "spearman"], task.Metrics);
    }

    [Fact]
    public void Qqp_skips_and_counts_its_malformed_rows()
    {
        const string header = "id|qid1|qid2|question1|question2|is_duplicate";
        var task = Load("qqp", Task("QQP", new()
        {
            ["train.tsv"] =
                $"{header}\n133273|213221|213222|How is the life of a math student?|Which level of prepration is enough for the exam " +
                "jlpt5?|0\n201841|303951|174364|How can I create an Android app?\n402555|536040|536041|How do I use Twitter as a " +
                "business source?|How can I use Twitter for business?|1\n",
            ["dev.tsv"] = $"{header}\n40066|160108|54826|What are natural numbers?|What is a least natural number?|0\n",
        }));
        Assert.Equal(2, task.Train.Count);
        Assert.Equal(1, task.Report.MalformedRowsSkipped);
    }

    [Fact]
    public void Mnli_matched_and_mismatched_read_their_own_dev_files()
    {
        const string header =
            "index|promptID|pairID|genre|sentence1_binary_parse|sentence2_binary_parse|sentence1_parse|sentence2_parse|sentence1|sentence2";
        var folder = Task("MNLI", new()
        {
            ["train.tsv"] =
                $"{header}|label1|gold_label\n0|31193|31193n|government|( ( Conceptually ...|( ( ( Product ...|(ROOT ...)|(ROOT " +
                "...)|Conceptually cream skimming has two basic dimensions - product and geography.|Product and geography are what make " +
                "cream skimming work. |neutral|neutral\n1|101457|101457e|telephone|( you ...|( You ...|(ROOT ...)|(ROOT ...)|you know " +
                "during the season and i guess at at your level uh you lose them to the next level|You lose the things to the following " +
                "level if the people recall.|entailment|entailment\n2|134793|134793e|fiction|( ( One ...|( ( ( Ca ...|(ROOT ...)|(ROOT " +
                "...)|One of our number will carry out your instructions minutely.|A member of my team will execute your orders with " +
                "immense precision.|contradiction|contradiction\n",
            ["dev_matched.tsv"] =
                $"{header}|label1|label2|label3|label4|label5|gold_label\n0|63735|63735n|slate|( ( The ...|( The ...|(ROOT ...)|(ROOT " +
                "...)|The new rights are nice enough|Everyone really likes the newest benefits |neutral|entailment|neutral|neutral|neutral|neutral\n",
            ["dev_mismatched.tsv"] =
                $"{header}|label1|label2|label3|label4|label5|gold_label\n0|75290|75290c|letters|( ( Your ...|( ( Your ...|(ROOT " +
                "...)|(ROOT ...)|Your contribution helped make it possible for us to provide our students with a quality education.|Your " +
                "contributions were of no help with our students' " +
                "education.|contradiction|contradiction|contradiction|contradiction|contradiction|contradiction\n",
        });
        Assert.StartsWith("The new rights", Load("mnli", folder).Dev[0].Text);
        Assert.StartsWith("Your contribution", Load("mnli-mm", folder).Dev[0].Text);
        Assert.Equal(["contradiction", "entailment", "neutral"], Load("mnli", folder).Labels);
    }

    [Fact]
    public void A_missing_glue_file_or_task_is_named()
    {
        Assert.Contains("train.tsv not found", Assert.Throws<FileNotFoundException>(() => Load("rte", Task("EMPTY", new()))).Message);
        Assert.Contains("unknown GLUE task 'xnli'", Assert.Throws<ArgumentException>(() => Load("xnli", root)).Message);
    }
}
