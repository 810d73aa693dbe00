using HybridBert.FineTuning;

namespace HybridBert.Tests.FineTuning;

public sealed class TaskDataTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-task-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    private string File_(string name, string content)
    {
        var path = Path.Combine(root, name);
        File.WriteAllText(path, content);
        return path;
    }

    private TaskData Load(string train, string dev, ColumnSpec? columns = null) =>
        TaskData.Load(new TaskSpec { Train = train, Dev = dev, Columns = columns ?? new ColumnSpec("review", null, "stars") });

    [Fact]
    public void Csv_with_quoted_fields_and_jsonl_with_numeric_labels_load()
    {
        var csv = File_("train.csv", "id,review,stars\n1,\"Great, really great\",5\n2,\"He said \"\"meh\"\"\",1\n");
        var jsonl = File_("dev.jsonl", "{\"review\": \"fine\", \"stars\": 5}\n{\"review\": \"bad\", \"stars\": 1}\n");
        var task = Load(csv, jsonl);
        Assert.Equal("Great, really great", task.Train[0].Text);
        Assert.Equal("He said \"meh\"", task.Train[1].Text);
        Assert.Equal(["1", "5"], task.Labels);
        Assert.Equal(1, task.Target(task.Dev[0]));
    }

    [Fact]
    public void A_missing_column_is_named_with_the_columns_present()
    {
        var train = File_("train.tsv", "text\tlabel\nhello\tpos\n");
        var error = Assert.Throws<InvalidDataException>(() => Load(train, train));
        Assert.Contains("no column 'review'", error.Message);
        Assert.Contains("'text', 'label'", error.Message);
    }

    [Fact]
    public void A_row_with_the_wrong_number_of_fields_names_file_and_line()
    {
        var train = File_("train.tsv", "review\tstars\ngood\t5\nbroken row without a tab\nok\t3\n");
        var error = Assert.Throws<InvalidDataException>(() => Load(train, train));
        Assert.Contains($"{train}:3: expected 2 fields, found 1", error.Message);
    }

    [Fact]
    public void A_dev_label_training_never_saw_names_file_line_and_known_labels()
    {
        var train = File_("train.tsv", "review\tstars\ngood\tpos\nbad\tneg\n");
        var dev = File_("dev.tsv", "review\tstars\nmeh\tneutral\n");
        var error = Assert.Throws<InvalidDataException>(() => Load(train, dev));
        Assert.Contains($"{dev}:2: the label 'neutral' never appears in the training data (labels: neg, pos)", error.Message);
    }

    [Fact]
    public void Empty_texts_are_skipped_and_counted()
    {
        var train = File_("train.tsv", "review\tstars\ngood\tpos\n \tneg\nbad\tneg\n");
        var task = Load(train, train);
        Assert.Equal(2, task.Train.Count);
        Assert.Equal(2, task.Report.EmptyTexts);   // once in train, once in dev (the same file)
        Assert.Contains(task.Report.Warnings, w => w.Contains(":3: empty text"));
    }

    [Fact]
    public void A_non_numeric_regression_label_is_named()
    {
        var train = File_("train.tsv", "review\tstars\ngood\t4.5\nbad\tmany\n");
        var error =
            Assert.Throws<InvalidDataException>(() =>
            TaskData.Load(new TaskSpec { Train = train, Dev = train, Regression = true, Columns = new("review", null, "stars") }));
        Assert.Contains(":3: the label 'many' is not a number", error.Message);
    }

    [Fact]
    public void The_embedded_task_loads_with_its_fixed_split()
    {
        var task = TaskData.Load(new TaskSpec { Name = "sentiment-sentences", CacheRoot = root });
        Assert.Equal((2400, 300, 300), (task.Train.Count, task.Dev.Count, task.Test!.Count));
        Assert.Equal(["negative", "positive"], task.Labels);
    }

    [Fact]
    public void A_data_set_not_yet_fetched_says_how_to_fetch_it()
    {
        var error = Assert.Throws<FileNotFoundException>(() => TaskData.Load(new TaskSpec { Name = "imdb", CacheRoot = root }));
        Assert.Contains("hybridbert datasets fetch imdb", error.Message);
    }
}
