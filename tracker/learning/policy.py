"""Policy profiles: the numbers of the notices, per class. Pure data and functions."""
from dataclasses import dataclass

from tracker.accounts.rules import RuleError


@dataclass(frozen=True)
class Policy:
    name: str
    label: str
    online_share_max: float = 0.40  # online hours / total hours (000, 003 art. 19)
    daily_class_hours: int = 8  # per trainee per day, China Standard Time (003 art. 19)
    class_hour_minutes: int = 45
    exam_unlock_share: float = 0.95  # of the required hours (003 art. 10)

    @property
    def daily_cap_seconds(self):
        return self.daily_class_hours * self.class_hour_minutes * 60


PROFILES = {
    "standard": Policy("standard", "常规（线上课时不超过总课时40%）"),
    "epidemic2020": Policy("epidemic2020", "2020年疫情防控期间（可全部线上）", online_share_max=1.0),
}
FORMS = ("录播", "直播", "线下")
CLASS_HOUR_SECONDS = 45 * 60  # 1 课时 (003 art. 19)


def class_hours(seconds):
    return round((seconds or 0) / CLASS_HOUR_SECONDS, 2)


def policy_for(name):
    try:
        return PROFILES[name]
    except KeyError:
        raise RuleError("invalid_policy", "政策配置无效：" + "、".join(PROFILES), "policy_profile") from None


def validate_plan(total_hours, online_hours, profile):
    """A teaching plan's hours: positive, online within total, and within the profile's online share."""
    policy = policy_for(profile)
    try:
        total, online = float(total_hours), float(online_hours)
    except (TypeError, ValueError):
        raise RuleError("invalid_hours", "课时须为数字", "total_hours") from None
    if not (0 < total <= 2000):
        raise RuleError("invalid_hours", "总课时须大于0且不超过2000", "total_hours")
    if not (0 <= online <= total):
        raise RuleError("invalid_hours", "线上课时须在0与总课时之间", "online_hours")
    if online > total * policy.online_share_max + 1e-9:
        raise RuleError(
            "online_share_exceeded",
            f"线上课时（{online:g}）超过总课时的{policy.online_share_max:.0%}（{total * policy.online_share_max:g}），"
            f"当前政策“{policy.label}”不允许",
            "online_hours",
        )
    return total, online
