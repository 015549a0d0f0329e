"""face changes reviewed by staff; the camera label of each photo

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('face_photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('camera_label', sa.String(length=200), nullable=True))
    with op.batch_alter_table('face_enrolments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=12), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('previous_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('distance', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('review_note', sa.Text(), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_face_enrolments_status'), ['status'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_face_enrolments_previous_id_face_enrolments'), 'face_enrolments',
                                    ['previous_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_face_enrolments_reviewed_by_users'), 'users', ['reviewed_by'], ['id'])
    # Faces replaced before this revision were replaced at once (no review then).
    op.execute("UPDATE face_enrolments SET status = 'replaced' WHERE active = false")


def downgrade():
    op.execute("DELETE FROM face_enrolments WHERE status IN ('pending', 'refused', 'withdrawn')")
    with op.batch_alter_table('face_enrolments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_face_enrolments_reviewed_by_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_face_enrolments_previous_id_face_enrolments'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_face_enrolments_status'))
        batch_op.drop_column('review_note')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('reviewed_by')
        batch_op.drop_column('distance')
        batch_op.drop_column('previous_id')
        batch_op.drop_column('status')
    with op.batch_alter_table('face_photos', schema=None) as batch_op:
        batch_op.drop_column('camera_label')
