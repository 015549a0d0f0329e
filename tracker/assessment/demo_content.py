"""The demo's quiz questions (per chapter) and its class's final exam settings; added once, idempotently.

Each chapter has one practice question (测验: its key is shown after the quiz) and four that may appear in the exam
(通用: drawn by both, keys never shown by a quiz); three course-level questions are for the exam alone (考试). The
quizzes still draw 5 per chapter and the exam 10 of its 11.
"""
from sqlalchemy import select

from models import BankQuestion, Course, ExamSettings, Institution, TrainingClass, User
from tracker.assessment import services

# chapter ordinal (None: the whole course), type, text, options, key, score, usage (测验 | 考试 | 通用)
QUESTIONS = [
    (1, "single", "我国规定的安全电压额定值中，一般环境下使用的是多少伏？", ["12V", "24V", "36V", "220V"], "C", 2, "通用"),
    (1, "multiple", "下列哪些做法可以防止触电？", ["使用漏电保护器", "湿手操作开关", "电气设备可靠接地", "停电检修时挂警示牌"], "ACD", 3, "通用"),
    (1, "truefalse", "发现有人触电时，应首先切断电源或用绝缘物使其脱离电源。", [], "对", 2, "通用"),
    (1, "truefalse", "可以用铜丝代替熔断器中的熔丝。", [], "错", 2, "测验"),
    (1, "fill", "在低压电气设备上工作，应遵守“停电、验电、装设接地线、悬挂标示牌和装设____”的安全措施。", [], "遮栏|围栏", 2, "通用"),
    (2, "single", "测量电路电流时，电流表应如何接入电路？", ["与负载并联", "与负载串联", "跨接在电源两端", "接在地线上"], "B", 2, "通用"),
    (2, "single", "使用万用表测量电阻前，必须先做什么？", ["断开被测电路的电源", "接通被测电路的电源", "选择最大电流挡", "把表笔短接后测量电压"], "A", 2, "通用"),
    (2, "multiple", "以下属于常用电工工具的是：", ["验电笔", "剥线钳", "游标卡尺", "绝缘电工钳"], "ABD", 3, "通用"),
    (2, "truefalse", "兆欧表（摇表）用于测量电气设备的绝缘电阻。", [], "对", 2, "测验"),
    (2, "fill", "验电笔使用前应在确认____的带电体上试验，证明验电笔良好。", [], "有电", 2, "通用"),
    (None, "single", "低压电工作业人员必须持有什么证件上岗？", ["驾驶证", "特种作业操作证", "健康证", "学历证书"], "B", 2, "考试"),
    (None, "truefalse", "电气设备着火时，应先切断电源再灭火。", [], "对", 2, "考试"),
    (None, "single", "扑灭带电的电气火灾，不能使用哪种灭火器？", ["二氧化碳灭火器", "干粉灭火器", "泡沫灭火器", "六氟丙烷灭火器"], "C", 2,
     "考试"),
]
EXAM = {"time_limit_minutes": 30, "pass_percent": 60.0, "max_attempts": 2, "question_count": 10}


def ensure_demo_assessment(s, institution_name):
    inst = s.scalar(select(Institution).where(Institution.name == institution_name))
    if inst is None:
        return
    staff = s.scalar(select(User).where(User.institution_id == inst.id, User.role == "staff").order_by(User.id))
    for course in s.scalars(select(Course).where(Course.institution_id == inst.id).order_by(Course.id).limit(1)):
        if s.scalar(select(BankQuestion.id).where(BankQuestion.course_id == course.id).limit(1)) is None:
            chapters = {ch.ordinal: ch.id for ch in course.chapters}
            for ordinal, kind, text, options, key, score, usage in QUESTIONS:
                if ordinal is None or ordinal in chapters:
                    services.add_question(s, course, staff, kind, text, options, key, score,
                                          chapters.get(ordinal) if ordinal else None, usage=usage)
    for cls in s.scalars(select(TrainingClass).where(TrainingClass.institution_id == inst.id)):
        if s.get(ExamSettings, cls.id) is None and staff is not None:
            services.save_exam_settings(s, cls, staff, **EXAM)
