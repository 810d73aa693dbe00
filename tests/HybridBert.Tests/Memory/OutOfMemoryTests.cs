using HybridBert.Memory;

namespace HybridBert.Tests.Memory;

public sealed class OutOfMemoryTests
{
    // The head of what libtorch 2.10 throws through TorchSharp when an allocation fails (its C++ stack follows).
    private const string Libtorch = "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: " +
        "you tried to allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)\nframe #0: c10::ThrowEnforceNotMet(...)";

    [Fact]
    public void Libtorch_allocation_failures_are_recognized_and_other_errors_are_not()
    {
        Assert.True(OutOfMemory.Matches(Libtorch));
        Assert.True(OutOfMemory.Matches("std::bad_alloc"));
        Assert.False(OutOfMemory.Matches("shape '[2, 3]' is invalid for input of size 5"));
    }

    [Fact]
    public void The_description_names_the_size_asked_for_and_what_is_available_in_one_line()
    {
        Assert.Equal("out of memory: one tensor needed 64.0 GiB, more than the 20.5 GiB available — use a smaller batch or sequence " +
            "length (or a smaller model)",
            OutOfMemory.Describe(Libtorch, 20.5 * 1073741824));
        Assert.Equal("out of memory: an allocation failed — use a smaller batch or sequence length (or a smaller model)",
            OutOfMemory.Describe("std::bad_alloc", null));
    }

    [Fact]
    public void A_tensor_smaller_than_what_is_available_is_explained_not_contradicted()
    {
        var small = Libtorch.Replace("68719476736", "3328599654");   // 3.1 GiB
        Assert.Equal("out of memory: one tensor of 3.1 GiB could not be allocated while this process held 19.0 GiB at its peak; 21.4 GiB " +
            "are available " +
                     "now that the step's other tensors are freed, so it was those tensors, not the one that failed, that filled memory " +
                         "— use a smaller batch or sequence length (or a smaller model)",
            OutOfMemory.Describe(small, 21.4 * 1073741824, 19.0 * 1073741824));
        Assert.Contains("this process may use at most 16.0 GiB (its container's memory limit or ulimit -v)",
            OutOfMemory.Describe(small, 21.4 * 1073741824, 15.9 * 1073741824, 16.0 * 1073741824));
        Assert.DoesNotContain("available", OutOfMemory.Describe(small, 21.4 * 1073741824, 15.9 * 1073741824, 16.0 * 1073741824));
    }
}
