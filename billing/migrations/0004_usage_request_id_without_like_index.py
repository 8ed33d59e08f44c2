"""The ledger's request_id: unique by a constraint, without the LIKE index unique=True brings on PostgreSQL.

Building the new unique index locks the table's writes for the build (seconds per million events);
the ledger writer waits meanwhile and the events wait in the outbox: nothing is lost.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_audit_result_deleted'),
        ('billing', '0003_plan_job_scheduling'),
    ]

    operations = [
        migrations.AlterField(
            model_name='usageevent',
            name='request_id',
            field=models.CharField(help_text='Assigned by the gateway at admission.', max_length=64),
        ),
        migrations.AddConstraint(
            model_name='usageevent',
            constraint=models.UniqueConstraint(fields=('request_id',), name='usage_request_id_unique'),
        ),
    ]
