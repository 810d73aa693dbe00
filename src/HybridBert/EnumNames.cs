namespace HybridBert;

/// <summary>How enum values are written on command lines and in JSON we write: lower case, words joined by hyphens
/// (<c>OnnxInt8</c> → <c>onnx-int8</c>, <c>Fp32</c> → <c>fp32</c>).</summary>
public static class EnumNames
{
    public static string Kebab(string name) =>
        string.Concat(name.Select((c, i) => i > 0 && char.IsUpper(c) && char.IsLower(name[i - 1]) ? "-" + char.ToLowerInvariant(c)
            : char.ToLowerInvariant(c).ToString()));

    public static string Kebab<T>(T value) where T : struct, Enum => Kebab(value.ToString());

    /// <summary>The value written <paramref name="text"/> (as <see cref="Kebab(string)"/> writes it, any case), or null.</summary>
    public static T? Parse<T>(string text) where T : struct, Enum =>
        Enum.GetValues<T>().Cast<T?>().FirstOrDefault(v => string.Equals(Kebab(v!.Value), text, StringComparison.OrdinalIgnoreCase)
            || string.Equals(v!.Value.ToString(), text, StringComparison.OrdinalIgnoreCase));
}
