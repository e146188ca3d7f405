//! Reports (issue 15): one row of facts per conversation, holding no personal data and no
//! customer id, so that anonymized and deleted conversations still count (src/reports/). The
//! conversation id is kept as an opaque number without a foreign key: the row outlives the
//! conversation. Existing conversations are filled in at start-up (`reports::facts::catch_up`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportFacts {
    Table,
    OrganizationId,
    ConversationRef,
    ChannelId,
    AssigneeId,
    CreatedAt,
    FirstResponseAt,
    ClosedAt,
    TagIds,
    Counted,
    SlaFirstResponseDueAt,
    SlaFirstRespondedAt,
    SlaResolutionDueAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReportFacts::Table)
                    .col(big_integer(ReportFacts::OrganizationId))
                    .col(big_integer(ReportFacts::ConversationRef))
                    .col(big_integer_null(ReportFacts::ChannelId))
                    .col(big_integer_null(ReportFacts::AssigneeId))
                    .col(timestamp_with_time_zone(ReportFacts::CreatedAt))
                    .col(timestamp_with_time_zone_null(ReportFacts::FirstResponseAt))
                    .col(timestamp_with_time_zone_null(ReportFacts::ClosedAt))
                    // Comma-separated tag ids, e.g. ",3,7," (empty: none).
                    .col(text(ReportFacts::TagIds).default(""))
                    // False: left out of reports (spam, or an objection stands).
                    .col(boolean(ReportFacts::Counted).default(true))
                    // The SLA deadlines (src/sla) and the first response as the SLA counts it
                    // (a conversation the team started is answered when it starts): met or
                    // missed is decided when a report reads them.
                    .col(timestamp_with_time_zone_null(
                        ReportFacts::SlaFirstResponseDueAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        ReportFacts::SlaFirstRespondedAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        ReportFacts::SlaResolutionDueAt,
                    ))
                    .primary_key(
                        Index::create()
                            .col(ReportFacts::OrganizationId)
                            .col(ReportFacts::ConversationRef),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_report_facts_organization")
                            .from(ReportFacts::Table, ReportFacts::OrganizationId)
                            .to(Alias::new("organizations"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_report_facts_created")
                    .table(ReportFacts::Table)
                    .col(ReportFacts::OrganizationId)
                    .col(ReportFacts::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_report_facts_closed")
                    .table(ReportFacts::Table)
                    .col(ReportFacts::OrganizationId)
                    .col(ReportFacts::ClosedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReportFacts::Table).to_owned())
            .await
    }
}
