"""SQLAlchemy models of the platform; importing this package registers every table on Base.metadata."""
from models.base import Base, utcnow  # noqa: F401
from models.accounts import (  # noqa: F401
    AccountLock, ApiToken, Institution, LoginAttempt, LoginSession, PasswordResetCode, User,
)
from models.ledger import LedgerEntry, LedgerHead  # noqa: F401
from models.learning import (  # noqa: F401
    Chapter, ChapterProgress, ClassCourse, Course, DailyCredit, Enrollment, Heartbeat, LearningSession, LectureProgress,
    LiveLecture, RosterRefusal, SessionCheck, TrainingClass,
)
from models.proof import Certificate, CertificateRevocation, LedgerCheckpoint, MerkleNode  # noqa: F401
from models.assessment import (  # noqa: F401
    Attempt, AttemptAnswer, BankQuestion, BankRetirement, ClassNotice, ExamSettings, QaPost,
)
from models.proctoring import FaceEnrolment, FaceFlag, FacePhoto, ProctoringPolicy  # noqa: F401
from models.regulator import AnomalyReview, SamplingDraw  # noqa: F401
