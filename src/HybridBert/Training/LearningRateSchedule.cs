namespace HybridBert.Training;

/// <summary>
/// Linear warm-up to the peak, then linear or cosine decay to zero at <c>totalSteps</c>. A pure function of the step,
/// so resuming needs no scheduler state beyond the step number.
/// </summary>
public sealed record LearningRateSchedule(double Peak, long WarmupSteps, long TotalSteps, LrSchedule Shape)
{
    public double At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        var progress = Math.Clamp((double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps), 0, 1);
        return Shape == LrSchedule.Cosine ? Peak * 0.5 * (1 + Math.Cos(Math.PI * progress)) : Peak * (1 - progress);
    }
}
